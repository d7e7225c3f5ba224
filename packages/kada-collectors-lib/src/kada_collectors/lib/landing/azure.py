"""An Azure Blob Storage landing (a container and a folder), written with a SAS token.

Files up to ``MAX_SINGLE_PUT`` are written in one Put Blob carrying the content's MD5, which the
service checks and keeps as the blob's Content-MD5; larger files are written in blocks (each
block's MD5 checked on receipt) committed at once with the file's MD5. Either way the blob
appears whole or not at all, and is verified by size and Content-MD5. The SDK's exponential
retry policy retries timeouts, connection errors and 5xx, up to ``max_attempts`` attempts.
"""

import logging
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Tuple
from urllib.parse import parse_qs

from ..errors import ConfigError
from .base import LocalFile, RemoteFile, Store
from .config import resolve_sas_token
from .errors import HWMConflict, LandingError, MissingExtra

MAX_SINGLE_PUT = 64 << 20
BLOCK_SIZE = 8 << 20
_AUTH_CODES = {"AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch",
               "AuthorizationResourceTypeMismatch", "AuthorizationServiceMismatch", "InvalidAuthenticationInfo",
               "NoAuthenticationInformation", "AuthorizationSourceIPMismatch", "AuthorizationProtocolMismatch"}
_CONTENT_TYPES = {".json": "application/json", ".gz": "application/gzip", ".csv": "text/csv; charset=utf-8",
                  ".txt": "text/plain; charset=utf-8"}


def _code(error: Exception) -> str:
    """The storage error code (e.g. "ContainerNotFound") of an Azure error, or ""."""
    code = getattr(error, "error_code", None)
    return str(getattr(code, "value", code) or "")


def _content_type(name: str) -> str:
    return next((t for ext, t in _CONTENT_TYPES.items() if name.endswith(ext)), "application/octet-stream")


def sas_expiry(token: str) -> Optional[datetime]:
    """The expiry (``se``) of a SAS token as an aware datetime, or None if it has none readable."""
    values = parse_qs(token.lstrip("?")).get("se")
    if not values:
        return None
    text = values[0].strip()
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


class AzureStore(Store):
    kind = "azure"

    def __init__(self, settings: dict) -> None:
        try:
            from azure.core import MatchConditions
            from azure.core import exceptions as azure_exceptions
            from azure.storage.blob import BlobServiceClient, ContentSettings, ExponentialRetry
        except ImportError:
            raise MissingExtra("azure", "azure-storage-blob", "azure") from None
        # The SDK logs every request at INFO (SAS signature masked); keep job logs readable.
        logging.getLogger("azure").setLevel(logging.WARNING)
        self._errors, self._ContentSettings, self._MatchConditions = azure_exceptions, ContentSettings, MatchConditions
        self.account_url = (settings.get("account_url")
                            or f"https://{settings['storage_account']}.blob.core.windows.net").rstrip("/")
        self.container, self.prefix = settings["container"], settings["prefix"]
        self.token = resolve_sas_token(settings)
        self.secrets = (self.token,)
        self._token_fields = {k: v[0] for k, v in parse_qs(self.token).items()}
        if "sig" not in self._token_fields:
            raise ConfigError(["the azure landing's SAS token is not a SAS token (it has no 'sig' field); copy the "
                               "whole token, e.g. sv=...&sp=rcwl&se=...&sig=..."], "landing")
        retry = ExponentialRetry(initial_backoff=1, increment_base=2, random_jitter_range=1,
                                 retry_total=settings["max_attempts"] - 1)
        service = BlobServiceClient(
            self.account_url, credential=self.token, retry_policy=retry,
            connection_timeout=settings["timeout_seconds"], read_timeout=settings["timeout_seconds"],
            max_single_put_size=MAX_SINGLE_PUT, max_block_size=BLOCK_SIZE, user_agent="kada-collector")
        self._container = service.get_container_client(self.container)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def where(self, name: str = "") -> str:
        return f"{self.account_url}/{self.container}/{self.key(name) if name else self.prefix}"

    # -- errors

    def _token_note(self) -> str:
        expiry = sas_expiry(self.token)
        if expiry is None:
            return ""
        when = expiry.strftime("%Y-%m-%d %H:%M:%S UTC")
        return (f"; the SAS token expired at {when}: issue a new one" if expiry <= datetime.now(timezone.utc)
                else f"; the SAS token is valid until {when}")

    def _explain(self, error: Exception, doing: str) -> LandingError:
        e = self._errors
        code = _code(error)
        status = getattr(error, "status_code", None)
        if code == "ContainerNotFound":
            return LandingError(f"{doing}: the container {self.container} does not exist in {self.account_url}; "
                                "create it or fix 'landing.container'")
        if isinstance(error, e.ClientAuthenticationError) or code in _AUTH_CODES or status == 403:
            return LandingError(f"{doing}: the SAS token was refused ({code or status}){self._token_note()}. It needs "
                                f"read, create, write and list permissions on the container {self.container}")
        if isinstance(error, e.ServiceRequestError | e.ServiceResponseError):
            return LandingError(f"{doing}: cannot reach {self.account_url} ({self.scrub(error).splitlines()[0]}) "
                                "after retries; check the network, then push again")
        first = self.scrub(error).splitlines()[0] if str(error) else type(error).__name__
        return LandingError(f"{doing}: {code or status}: {first}")

    def _blob(self, name: str) -> Any:
        return self._container.get_blob_client(self.key(name))

    # -- the store

    def check(self) -> None:
        expiry = sas_expiry(self.token)
        if expiry is not None and expiry <= datetime.now(timezone.utc):
            raise LandingError(f"checking {self.where()}: the SAS token expired at "
                               f"{expiry.strftime('%Y-%m-%d %H:%M:%S UTC')}; issue a new one "
                               "(read, create, write and list on the container)")
        granted = self._token_fields.get("sp", "rw")
        missing = [p for letter, p in (("r", "read"), ("w", "write")) if letter not in granted]
        if missing:
            raise LandingError(f"checking {self.where()}: the SAS token lacks the {' and '.join(missing)} "
                               "permission(s); issue one with read, create, write and list")
        # A missing blob is fine; a missing container or a refused token is not.
        self._stat(".kada-landing-check", f"checking {self.where()}")

    def stat(self, name: str) -> Optional[RemoteFile]:
        return self._stat(name, f"reading {self.where(name)}")

    def _stat(self, name: str, doing: str) -> Optional[RemoteFile]:
        try:
            props = self._blob(name).get_blob_properties()
        except self._errors.ResourceNotFoundError as error:
            if _code(error) in ("BlobNotFound", ""):
                return None
            raise self._explain(error, doing) from None
        except self._errors.AzureError as error:
            raise self._explain(error, doing) from None
        md5 = props.content_settings.content_md5
        return RemoteFile(size=props.size, checksum=bytes(md5).hex() if md5 else None, etag=props.etag)

    def expected_checksum(self, local: LocalFile) -> str:
        return local.md5

    def upload(self, local: LocalFile, name: str, on_bytes: Optional[Callable[[int], None]] = None) -> None:
        doing = f"uploading {local.name} to {self.where(name)}"
        # A single Put Blob: the service computes and keeps the MD5 (a real check of what arrived).
        # Blocks: the MD5 of the whole is ours, stored on commit; each block was checked on receipt.
        content_md5 = None if local.size <= MAX_SINGLE_PUT else bytearray(bytes.fromhex(local.md5))
        settings = self._ContentSettings(content_type=_content_type(name), content_md5=content_md5)
        sent = [0]

        def hook(current: int, total: Optional[int]) -> None:
            if on_bytes and current > sent[0]:
                on_bytes(current - sent[0])
                sent[0] = current
        try:
            with open(local.path, "rb") as f:
                self._blob(name).upload_blob(f, length=local.size, overwrite=True,
                                             validate_content=True, content_settings=settings,
                                             max_concurrency=1, progress_hook=hook)
        except self._errors.AzureError as error:
            raise self._explain(error, doing) from None

    def read_text(self, name: str) -> Tuple[Optional[str], Optional[str]]:
        try:
            downloader = self._blob(name).download_blob()
            return downloader.readall().decode("utf-8", "replace"), downloader.properties.etag
        except self._errors.ResourceNotFoundError as error:
            if _code(error) == "ContainerNotFound":
                raise self._explain(error, f"reading {self.where(name)}") from None
            return None, None
        except self._errors.AzureError as error:
            raise self._explain(error, f"reading {self.where(name)}") from None

    def write_text(self, name: str, text: str, version: object) -> None:
        data = text.encode("utf-8")
        settings = self._ContentSettings(content_type=_content_type(name))
        try:
            if version:
                self._blob(name).upload_blob(data, overwrite=True, etag=version, content_settings=settings,
                                             match_condition=self._MatchConditions.IfNotModified)
            else:
                self._blob(name).upload_blob(data, overwrite=False, content_settings=settings)
        except (self._errors.ResourceModifiedError, self._errors.ResourceExistsError,
                self._errors.ResourceNotFoundError) as error:
            if _code(error) == "ContainerNotFound":
                raise self._explain(error, f"writing {self.where(name)}") from None
            raise HWMConflict(f"{self.where(name)} changed after this run read it (another run published its HWM "
                              "meanwhile); this run's HWM was not published") from None
        except self._errors.AzureError as error:
            raise self._explain(error, f"writing {self.where(name)}") from None

