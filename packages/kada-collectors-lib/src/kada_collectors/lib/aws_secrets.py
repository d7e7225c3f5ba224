"""Secrets kept by AWS: a value read from Secrets Manager or SSM Parameter Store.

A config names where a secret is kept, never the secret itself, as an object:

- ``{"aws_secrets_manager": "<arn or name>", "key": "password"}``: the value of ``key`` in a secret
  holding a JSON object (as RDS keeps its managed passwords); without ``key``, the secret must hold
  the value alone, as plain text;
- ``{"aws_ssm_parameter": "<name or arn>"}``: a parameter (a SecureString is decrypted).

``reference_problems`` checks such an object like any other setting; ``read_secret`` reads it with
boto3's default credential chain (environment, profile, web identity, container or instance role).
The value read is returned only: never logged, never part of an error message. The database's
``password_secret`` and the Azure landing's ``sas_token_secret`` are such objects.
"""

import json
import re
from typing import Callable, List, Optional

from .config import Setting, describe, section_problems
from .errors import ConfigError

SECRETS_MANAGER, SSM_PARAMETER, KEY = "aws_secrets_manager", "aws_ssm_parameter", "key"
REFERENCE_SETTINGS = (
    Setting(SECRETS_MANAGER, str),
    Setting(SSM_PARAMETER, str),
    Setting(KEY, str),
)
EXAMPLES = ('{"aws_secrets_manager": "prod/kada/postgres", "key": "password"} or '
            '{"aws_ssm_parameter": "/kada/postgres/password"}')
# A secret's name or ARN, a parameter's name or ARN: no spaces, at most 2048 characters.
_NAME = re.compile(r"^[\w/+=.@:!-]{1,2048}$")
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:(?:secretsmanager|ssm):([a-z0-9-]+):")


def reference_problems(name: str) -> Callable[[dict], List[str]]:
    """A ``Setting.check`` for an object naming where the secret ``name`` is kept."""
    def check(value: dict) -> List[str]:
        problems = section_problems(value, REFERENCE_SETTINGS, name)
        if problems:
            return problems
        sources = [k for k in (SECRETS_MANAGER, SSM_PARAMETER) if k in value]
        if not sources:
            return [f"'{name}' must name where the secret is kept: {EXAMPLES}"]
        if len(sources) > 1:
            return [f"'{name}' names both '{SECRETS_MANAGER}' and '{SSM_PARAMETER}': keep the one that holds it"]
        where = value[sources[0]]
        if not _NAME.match(where):
            return [f"'{name}.{sources[0]}' must be a name or ARN (no spaces), got {describe(where)}"]
        if KEY in value and sources[0] == SSM_PARAMETER:
            return [f"'{name}.key' applies to '{SECRETS_MANAGER}' only (a parameter holds one value): remove it"]
        if KEY in value and not value[KEY].strip():
            return [f"'{name}.key' must not be empty: the JSON key holding the value, e.g. \"password\""]
        return []
    return check


def describe_reference(reference: dict) -> str:
    """Where a secret is kept, for messages (the place, never the value)."""
    if SECRETS_MANAGER in reference:
        key = f" (key {reference[KEY]!r})" if reference.get(KEY) else ""
        return f"the Secrets Manager secret {reference[SECRETS_MANAGER]}{key}"
    return f"the SSM parameter {reference[SSM_PARAMETER]}"


def region_of(reference: dict, region: Optional[str]) -> Optional[str]:
    """The region to read in: the one given, else the ARN's (None: boto3's own default)."""
    match = _ARN_REGION.match(reference.get(SECRETS_MANAGER) or reference.get(SSM_PARAMETER) or "")
    return region or (match.group(1) if match else None)


def read_secret(reference: dict, region: Optional[str], name: str, source: str, region_setting: bool = True) -> str:
    """The value ``reference`` names, read now (in ``region``, else the ARN's, else boto3's); a
    ``ConfigError`` (from ``source``, about the setting ``name``) says what went wrong and how to
    fix it, never the value. ``region_setting``: whether the config has an 'aws_region' to set."""
    try:
        import boto3
        import botocore.exceptions as errors
    except ImportError:
        raise ConfigError([f"'{name}' needs the Python package boto3, which is not installed: "
                           "pip install \"kada-collectors-extractors[aws]\""], source) from None
    where = describe_reference(reference)
    region_hint = "'aws_region' (e.g. \"eu-west-1\")" if region_setting else "AWS_DEFAULT_REGION"

    def problem(text):
        return ConfigError([f"{where}, named by '{name}', {text}"], source)

    try:
        session = boto3.session.Session(region_name=region_of(reference, region))
        if session.region_name is None:
            raise problem(f"cannot be read without a region: give its ARN (which names it), or set {region_hint}")
        if SECRETS_MANAGER in reference:
            client = session.client("secretsmanager")
            answer = client.get_secret_value(SecretId=reference[SECRETS_MANAGER])
            return _value_of(answer.get("SecretString"), reference.get(KEY), problem)
        client = session.client("ssm")
        return client.get_parameter(Name=reference[SSM_PARAMETER], WithDecryption=True)["Parameter"]["Value"]
    except errors.NoCredentialsError:
        raise problem("cannot be read: no AWS credentials found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                      "or AWS_PROFILE, or run on a host (EC2, ECS, EKS) with an IAM role") from None
    except errors.ClientError as e:
        raise problem(_client_error_fix(e, reference, session.region_name, region_hint)) from None
    except errors.BotoCoreError as e:  # the endpoint cannot be reached, a bad profile...
        raise problem(f"cannot be read: {type(e).__name__}: {e}") from None


def _value_of(text: Optional[str], key: Optional[str], problem) -> str:
    """The value in a secret's text: the whole text, or one key of a JSON object."""
    if text is None:
        raise problem("holds binary data, not text: store the value as a secret string")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if key is None:
        if isinstance(document, dict):
            raise problem(f"holds a JSON object (keys: {', '.join(sorted(map(str, document)))}): set \"key\" to "
                          "the one holding the value, e.g. \"key\": \"password\"")
        return text
    if not isinstance(document, dict):
        raise problem(f"is not a JSON object, so it has no key {key!r}: store a JSON object, or remove \"key\"")
    if key not in document:
        raise problem(f"has no key {key!r}; its keys are: {', '.join(sorted(map(str, document)))}")
    if not isinstance(document[key], str):
        raise problem(f"holds {type(document[key]).__name__} under {key!r}, not a string")
    return document[key]


_REFUSED = ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidClientTokenId",
            "SignatureDoesNotMatch", "ExpiredTokenException")


def _client_error_fix(error, reference: dict, region: Optional[str], hint: str) -> str:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    secrets = SECRETS_MANAGER in reference
    if code in ("ResourceNotFoundException", "ParameterNotFound"):
        what = "name or ARN" if secrets else "parameter name"
        return f"does not exist in region {region}: check the {what} and {hint}"
    if status == 403 or code in _REFUSED:  # an IAM refusal may come as a bare 403 (its body XML, not JSON)
        # Not written "service:Action": "secretsmanager:..." reads as a secret's key and value to the redaction.
        action = "GetSecretValue (service secretsmanager)" if secrets else "GetParameter (service ssm)"
        refusal = code if code in _REFUSED else "AccessDenied"
        return (f"cannot be read: AWS refused the request ({refusal}). Allow the action {action} on it to the "
                "identity the collector runs as (and kms:Decrypt on its key when that is a customer managed "
                "key), and check that identity's credentials")
    if code == "DecryptionFailure":
        return "cannot be decrypted: allow kms:Decrypt on its KMS key to the identity the collector runs as"
    return f"cannot be read: {code}: {error.response.get('Error', {}).get('Message', '')}"
