"""An S3 landing (AWS, or any S3 API through ``endpoint_url``), written with boto3.

Credentials come from the standard AWS chain (environment, shared profile, container or instance
role); with ``role_arn`` that identity assumes the role first (through STS at its regional
endpoint, or ``AWS_ENDPOINT_URL_STS``). Every file is uploaded with its
SHA-256 (``ChecksumSHA256``), which S3 checks on receipt and reports back, so a landed file is
verified by size and checksum. boto3's "standard" retry mode retries throttling, 5xx and
connection errors with exponential backoff, up to ``max_attempts``.
"""

import base64
import logging
from typing import Any, Callable, Optional, Tuple

from .base import MULTIPART_THRESHOLD, PART_SIZE, LocalFile, ProgressReader, RemoteFile, Store
from .errors import HWMConflict, LandingError, MissingExtra

log = logging.getLogger(__name__)

_CONTENT_TYPES = {".json": "application/json", ".gz": "application/gzip", ".csv": "text/csv; charset=utf-8",
                  ".txt": "text/plain; charset=utf-8"}
# Error codes meaning "the credentials are not accepted".
_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken",
               "InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure", "403", "Forbidden"}
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


def _content_type(name: str) -> str:
    return next((t for ext, t in _CONTENT_TYPES.items() if name.endswith(ext)), "application/octet-stream")


class S3Store(Store):
    kind = "s3"
    # Overridable for tests of multipart uploads (S3 takes parts of 5 MiB at least).
    multipart_threshold = MULTIPART_THRESHOLD
    part_size = PART_SIZE

    def __init__(self, settings: dict) -> None:
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError:
            raise MissingExtra("s3", "boto3", "s3") from None
        self._botocore = botocore
        self.bucket, self.prefix, self.region = settings["bucket"], settings["prefix"], settings["region"]
        self.role_arn = settings.get("role_arn")
        config = botocore.config.Config(
            region_name=self.region,
            retries={"mode": "standard", "max_attempts": settings["max_attempts"]},
            connect_timeout=settings["timeout_seconds"], read_timeout=settings["timeout_seconds"],
            user_agent_extra="kada-collector",
        )
        session = boto3.session.Session(region_name=self.region)
        if self.role_arn:
            session = self._assume_role(boto3, session, config, settings)
        self._client = session.client("s3", endpoint_url=settings.get("endpoint_url"), config=config)

    def _assume_role(self, boto3: Any, session: Any, config: Any, settings: dict) -> Any:
        try:
            # STS at its regional endpoint (or AWS_ENDPOINT_URL_STS), never at an S3 endpoint_url.
            sts = session.client("sts", config=config)
            creds = sts.assume_role(RoleArn=self.role_arn, RoleSessionName="kada-collector",
                                    DurationSeconds=3600)["Credentials"]
        except self._botocore.exceptions.NoCredentialsError:
            raise LandingError(f"cannot assume {self.role_arn}: no AWS credentials found (environment, profile "
                               "or instance role)") from None
        except (self._botocore.exceptions.ClientError, self._botocore.exceptions.BotoCoreError) as e:
            raise LandingError(f"cannot assume {self.role_arn}: {self.scrub(e)}. Check the role's trust policy "
                               "names this identity and that it may call sts:AssumeRole") from None
        self.secrets = (creds["SecretAccessKey"], creds["SessionToken"])
        return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                     aws_secret_access_key=creds["SecretAccessKey"],
                                     aws_session_token=creds["SessionToken"], region_name=self.region)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def where(self, name: str = "") -> str:
        return f"s3://{self.bucket}/{self.key(name)}" if name else f"s3://{self.bucket}/{self.prefix}"

    # -- errors

    def _explain(self, error: Exception, doing: str) -> LandingError:
        """A ``LandingError`` saying what failed, why and what to do."""
        exc = self._botocore.exceptions
        if isinstance(error, exc.NoCredentialsError):
            return LandingError(f"{doing}: no AWS credentials found; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                                "AWS_PROFILE, or run on a host with an instance role")
        if isinstance(error, exc.ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",) or (code in ("404", "NotFound") and doing.startswith("checking")):
                return LandingError(f"{doing}: the bucket {self.bucket} does not exist (region {self.region}); "
                                    "check 'landing.bucket' and 'landing.region'")
            if code in _AUTH_CODES or status == 403:
                return LandingError(f"{doing}: the credentials were refused ({code or status}); check the AWS "
                                    "credentials of this job and that they allow s3:PutObject, s3:GetObject and "
                                    f"s3:ListBucket on {self.where()}")
            return LandingError(f"{doing}: {code or status}: {self.scrub(error)}")
        if isinstance(error, (exc.EndpointConnectionError, exc.ConnectionClosedError, exc.ReadTimeoutError,
                              exc.ConnectTimeoutError)):
            return LandingError(f"{doing}: cannot reach S3 ({self.scrub(error)}) after retries; check the network "
                                "and 'landing.endpoint_url', then push again")
        return LandingError(f"{doing}: {self.scrub(error)}")

    def _call(self, doing: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, method)(**kwargs)
        except (self._botocore.exceptions.BotoCoreError, self._botocore.exceptions.ClientError) as e:
            raise self._explain(e, doing) from None

    # -- the store

    def check(self) -> None:
        self._call(f"checking {self.where()}", "head_bucket", Bucket=self.bucket)

    def stat(self, name: str) -> Optional[RemoteFile]:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self.key(name), ChecksumMode="ENABLED")
        except self._botocore.exceptions.ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._explain(e, f"reading {self.where(name)}") from None
        except self._botocore.exceptions.BotoCoreError as e:
            raise self._explain(e, f"reading {self.where(name)}") from None
        # An ETag is the content's MD5 (computed by S3) unless the object is KMS-encrypted or multipart.
        md5_etag = not str(head.get("ServerSideEncryption", "")).startswith("aws:kms")
        return RemoteFile(size=head["ContentLength"], checksum=head.get("ChecksumSHA256"),
                          etag=head.get("ETag", "").strip('"') if md5_etag else None)

    def expected_checksum(self, local: LocalFile) -> str:
        return local.s3_checksum(self.multipart_threshold, self.part_size)

    def matches(self, remote: Optional[RemoteFile], local: LocalFile) -> bool:
        """Size, and the SHA-256 S3 checked on receipt; for one PUT also the ETag (S3's own MD5 of
        what it stored), when it is one. A store keeping no checksum is judged by the ETag alone."""
        if remote is None or remote.size != local.size:
            return False
        single = local.size <= self.multipart_threshold
        if single and remote.etag and "-" not in remote.etag and remote.etag != local.md5:
            return False
        if remote.checksum is None:
            return single and remote.etag == local.md5
        expected = self.expected_checksum(local)
        if remote.checksum == expected:
            return True
        # A composite checksum may be reported without its "-<parts>"; the ETag then carries the count.
        digest, _, parts = expected.partition("-")
        return bool(parts) and remote.checksum == digest and (remote.etag or "").endswith(f"-{parts}")

    def upload(self, local: LocalFile, name: str, on_bytes: Optional[Callable[[int], None]] = None) -> None:
        doing = f"uploading {local.name} to {self.where(name)}"
        if local.size <= self.multipart_threshold:
            with open(local.path, "rb") as f:
                self._call(doing, "put_object", Bucket=self.bucket, Key=self.key(name),
                           Body=ProgressReader(f, on_bytes), ContentLength=local.size,
                           ContentType=_content_type(name), ChecksumAlgorithm="SHA256",
                           ChecksumSHA256=base64.b64encode(bytes.fromhex(local.sha256)).decode())
            return
        self._upload_parts(local, name, doing, on_bytes)

    def _upload_parts(self, local: LocalFile, name: str, doing: str,
                      on_bytes: Optional[Callable[[int], None]]) -> None:
        """A multipart upload, each part with its SHA-256; aborted on failure so no part lingers."""
        key = self.key(name)
        upload_id = self._call(doing, "create_multipart_upload", Bucket=self.bucket, Key=key,
                               ContentType=_content_type(name), ChecksumAlgorithm="SHA256")["UploadId"]
        try:
            parts = []
            digests = local.part_sha256(self.part_size)
            with open(local.path, "rb") as f:
                for number, digest in enumerate(digests, 1):
                    data = f.read(self.part_size)
                    checksum = base64.b64encode(digest).decode()
                    response = self._call(doing, "upload_part", Bucket=self.bucket, Key=key, UploadId=upload_id,
                                          PartNumber=number, Body=data, ChecksumSHA256=checksum)
                    parts.append({"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum})
                    if on_bytes:
                        on_bytes(len(data))
            self._call(doing, "complete_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id,
                       MultipartUpload={"Parts": parts})
        except BaseException:
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception as e:  # the endpoint may be what failed; a lifecycle rule cleans up then
                log.warning("could not abort the multipart upload of %s: %s", self.where(name), self.scrub(e))
            raise

    def read_text(self, name: str) -> Tuple[Optional[str], Optional[str]]:
        try:
            got = self._client.get_object(Bucket=self.bucket, Key=self.key(name))
            return got["Body"].read().decode("utf-8", "replace"), got["ETag"]
        except self._botocore.exceptions.ClientError as e:
            if str(e.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None, None
            raise self._explain(e, f"reading {self.where(name)}") from None
        except self._botocore.exceptions.BotoCoreError as e:
            raise self._explain(e, f"reading {self.where(name)}") from None

    def write_text(self, name: str, text: str, version: object) -> None:
        condition = {"IfMatch": version} if version else {"IfNoneMatch": "*"}
        try:
            self._client.put_object(Bucket=self.bucket, Key=self.key(name), Body=text.encode("utf-8"),
                                    ContentType=_content_type(name), **condition)
        except self._botocore.exceptions.ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            # If-Match on a key deleted meanwhile is a NoSuchKey: changed all the same.
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _CONFLICT_CODES or status in (409, 412) or (version and code in ("NoSuchKey", "404")):
                raise HWMConflict(f"{self.where(name)} changed after this run read it (another run published its "
                                  "HWM meanwhile); this run's HWM was not published") from None
            raise self._explain(e, f"writing {self.where(name)}") from None
        except self._botocore.exceptions.BotoCoreError as e:
            raise self._explain(e, f"writing {self.where(name)}") from None
