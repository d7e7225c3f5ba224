"""IAM database authentication: a fresh token for every connection.

A token is a SigV4-signed request computed on this machine (no network call) by boto3's
``rds.generate_db_auth_token`` for the endpoint, port, user and region. It is valid for 15 minutes
and checked only when a connection opens, so a run over many databases, which may outlive one
token, asks for a new one before each connection. The credentials are boto3's usual chain
(environment, profile, web identity, container or instance role); with ``role_arn``, the role is
assumed through STS first, and assumed again shortly before its credentials expire.

The token is a password: it goes to libpq as the ``password`` connect parameter only, never into
a conninfo string, a log line, an error message or the manifest.
"""

import logging
import threading
import time

from kada_collectors.lib.errors import CollectorError
from kada_collectors.lib.redact import redact_credentials

from .access import boto3_installed, missing_boto3_message

# Assumed-role credentials are renewed this long before they expire.
RENEW_BEFORE_SECONDS = 300
ASSUMED_ROLE_SECONDS = 3600
ROLE_SESSION_NAME = "kada-collector"

log = logging.getLogger(__name__)


class IamAuthError(CollectorError):
    """No token could be made (no credentials, the role could not be assumed, boto3 missing)."""


class TokenSource:
    """Makes IAM tokens for one endpoint and user; thread-safe."""

    def __init__(self, region, role_arn=None):
        if not boto3_installed():
            raise IamAuthError(missing_boto3_message())
        import boto3
        import botocore.exceptions
        self._boto3, self._errors = boto3, botocore.exceptions
        self.region, self.role_arn = region, role_arn
        self._lock = threading.Lock()
        self._client = None
        self._expires = None  # when the assumed role's credentials expire (epoch seconds)

    def token(self, server, port, username):
        """A new token for ``username`` at ``server:port``."""
        with self._lock:
            client = self._rds_client()
        try:
            return client.generate_db_auth_token(DBHostname=server, Port=port, DBUsername=username,
                                                 Region=self.region)
        except self._errors.NoCredentialsError:
            raise IamAuthError(_NO_CREDENTIALS) from None
        except self._errors.BotoCoreError as e:
            raise IamAuthError(f"cannot make an IAM token: {redact_credentials(str(e))}") from None

    def _rds_client(self):
        if self._client is not None and (self._expires is None or time.time() < self._expires - RENEW_BEFORE_SECONDS):
            return self._client
        session = self._boto3.session.Session(region_name=self.region)
        if self.role_arn:
            session = self._assume_role(session)
        self._client = session.client("rds", region_name=self.region)
        return self._client

    def _assume_role(self, session):
        try:
            # STS at the region's endpoint (or AWS_ENDPOINT_URL_STS / the profile's endpoint_url).
            sts = session.client("sts", region_name=self.region)
            creds = sts.assume_role(RoleArn=self.role_arn, RoleSessionName=ROLE_SESSION_NAME,
                                    DurationSeconds=ASSUMED_ROLE_SECONDS)["Credentials"]
        except self._errors.NoCredentialsError:
            raise IamAuthError(f"cannot assume role_arn {self.role_arn}: {_NO_CREDENTIALS}") from None
        except (self._errors.ClientError, self._errors.BotoCoreError) as e:
            raise IamAuthError(
                f"cannot assume role_arn {self.role_arn}: {redact_credentials(str(e))}. Check that the role's trust "
                "policy names this identity and that the identity may call sts:AssumeRole") from None
        self._expires = creds["Expiration"].timestamp()
        log.info("assumed %s for IAM database authentication until %s", self.role_arn,
                 creds["Expiration"].strftime("%Y-%m-%d %H:%M:%S %Z"))
        return self._boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                           aws_secret_access_key=creds["SecretAccessKey"],
                                           aws_session_token=creds["SessionToken"], region_name=self.region)


_NO_CREDENTIALS = ("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or "
                   "run on a host (EC2, ECS, EKS) with an IAM role")
_SOURCES = {}
_SOURCES_LOCK = threading.Lock()


def token_for(settings):
    """A fresh token for the connection about to open (the source is shared per region and role)."""
    key = (settings["aws_region"], settings.get("role_arn"))
    with _SOURCES_LOCK:
        source = _SOURCES.get(key)
        if source is None:
            source = _SOURCES[key] = TokenSource(*key)
    return source.token(settings["server"], settings["port"], settings["username"])


def forget_sources():
    """Drop the cached sessions (their credentials); the next token starts from the chain again."""
    with _SOURCES_LOCK:
        _SOURCES.clear()
