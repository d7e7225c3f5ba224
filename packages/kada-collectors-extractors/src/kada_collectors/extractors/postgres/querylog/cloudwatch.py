"""Statements from the PostgreSQL log that AWS RDS and Aurora export to CloudWatch Logs.

The group is ``/aws/rds/instance/<instance>/postgresql`` (or ``/aws/rds/cluster/<cluster>/postgresql``),
with one stream per instance; its events are the server's stderr log lines, with RDS's fixed
``log_line_prefix`` ``%t:%r:%u@%d:[%p]:``. They are read with ``FilterLogEvents`` (boto3, the
standard AWS credential chain: environment, profile, SSO, instance or task role) over the window
widened by ``SLACK``, page after page, and parsed as stderr log files are (``entries.py``), with one
parser per stream: continuation lines of a message may come inside its event or as events of their
own, with or without their tab. The line's own time places it in the window; an event's timestamp
is used only when the prefix has no time. The caller needs ``logs:FilterLogEvents`` on the group.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

from kada_collectors.lib.redact import redact_credentials

from .entries import SLACK, SOURCE_CLOUDWATCH, Assembler, LogReadError, StderrParser, check_window
from .log_prefix import AmbiguousTimeZone, LinePrefix, TimeResolver

RDS_LINE_PREFIX = "%t:%r:%u@%d:[%p]:"
_XML_CODE = re.compile(r"<Code>([^<]*)</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")
# FilterLogEvents's own maximum page size.
MAX_PAGE_SIZE = 10_000
_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
                     "InvalidSignatureException", "ExpiredTokenException", "ExpiredToken",
                     "InvalidClientTokenId", "IncompleteSignature", "SignatureDoesNotMatch"})


def read_cloudwatch(log_group: str, region: str | None, endpoint_url: str | None, line_prefix: str | None,
                    start: datetime, end: datetime, *, log_timezone: str | None = None,
                    page_size: int | None = None) -> Iterator:
    """Statements (``LogStatement``, source ``cloudwatch``) logged in ``[start, end)`` in ``log_group``.

    ``region``: the group's AWS region (None: the standard chain's); ``endpoint_url``: another
    endpoint (a VPC endpoint, a test server), None for AWS's; ``line_prefix``: the exported lines'
    prefix (None: RDS's); ``log_timezone``: the instance's log_timezone when its abbreviation is
    ambiguous (RDS writes UTC by default); ``page_size``: events per call (default: the service's
    maximum). Raises ``LogReadError`` (when iterated) for a missing group, denied access, missing
    credentials or an endpoint that cannot be reached."""
    check_window(start, end)
    prefix = LinePrefix(line_prefix if line_prefix is not None else RDS_LINE_PREFIX)
    try:
        resolver = TimeResolver(log_timezone)
    except ValueError as exc:
        raise LogReadError(str(exc)) from None
    if page_size is not None and not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    return _read(log_group, region, endpoint_url, prefix, resolver, start, end, page_size)


def _read(log_group, region, endpoint_url, prefix, resolver, start, end, page_size) -> Iterator:
    parsers: dict[str, StderrParser] = {}
    assembler = Assembler(start, end, SOURCE_CLOUDWATCH)

    def add(stream: str, parser: StderrParser, entry) -> list:
        session = parser.key(entry)
        return assembler.add(entry, (stream, session) if session is not None else None)

    window = (_milliseconds(start - SLACK), _milliseconds(end + SLACK))
    try:
        for event in _events(log_group, region, endpoint_url, window, page_size):
            stream = event.get("logStreamName", "")
            parser = parsers.get(stream)
            if parser is None:
                parser = parsers[stream] = StderrParser(prefix, resolver, lenient=True)
            event_time = datetime.fromtimestamp(event.get("timestamp", 0) / 1000, timezone.utc)
            lines = event.get("message", "").split("\n")
            if len(lines) > 1 and lines[-1] == "":
                lines.pop()
            for line in lines:
                entry = parser.feed(line, event_time)
                if entry is not None:
                    yield from add(stream, parser, entry)
    except AmbiguousTimeZone as exc:
        raise LogReadError(f"CloudWatch Logs group {log_group}: {exc}") from None
    for stream, parser in parsers.items():
        entry = parser.finish()
        if entry is not None:
            yield from add(stream, parser, entry)
    yield from assembler.finish()


def _events(log_group, region, endpoint_url, window, page_size) -> Iterator[dict]:
    """Every event of the group in the window (both ends in ms, inclusive), page by page."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
    except ImportError:
        raise LogReadError("reading CloudWatch Logs needs boto3: pip install boto3") from None

    where = f"CloudWatch Logs group {log_group}" + (f" in {region}" if region else "")
    endpoint = redact_credentials(endpoint_url) if endpoint_url else "the AWS endpoint"
    try:
        client = boto3.client("logs", region_name=region or None, endpoint_url=endpoint_url or None,
                              config=Config(connect_timeout=10, read_timeout=60,
                                            retries={"mode": "standard", "max_attempts": 4}))
        request = {"logGroupName": log_group, "startTime": window[0], "endTime": window[1]}
        if page_size:
            request["limit"] = page_size
        seen_tokens = set()
        while True:
            page = client.filter_log_events(**request)
            yield from page.get("events", ())
            token = page.get("nextToken")
            if not token or token in seen_tokens:
                return
            seen_tokens.add(token)
            request["nextToken"] = token
    except NoRegionError:
        raise LogReadError(f"{where}: no AWS region: set the region of the group (or AWS_DEFAULT_REGION)") from None
    except NoCredentialsError:
        raise LogReadError(
            f"{where}: no AWS credentials found: provide them the standard way (environment, shared "
            "config profile, SSO, or the instance's or task's role)") from None
    except ClientError as exc:
        code, detail, status = _client_error(exc)
        if code == "ResourceNotFoundException":
            raise LogReadError(
                f"{where} does not exist: check the group name (RDS: /aws/rds/instance/<instance>/postgresql, "
                "Aurora: /aws/rds/cluster/<cluster>/postgresql), the region, and that the instance exports "
                "its postgresql log to CloudWatch Logs") from None
        if code in _DENIED or status in (401, 403):
            raise LogReadError(
                f"{where}: access denied ({code}: {detail}): the collector's AWS identity needs valid "
                "credentials and logs:FilterLogEvents on the group") from None
        if code in ("ThrottlingException", "ServiceUnavailableException"):
            raise LogReadError(f"{where}: CloudWatch Logs is throttling or unavailable ({code}): "
                               "run again later") from None
        raise LogReadError(f"{where}: CloudWatch Logs refused the request ({code}: {detail})") from None
    except BotoCoreError as exc:  # cannot connect, timeouts, bad endpoint
        raise LogReadError(
            f"{where}: cannot reach CloudWatch Logs at {endpoint} ({type(exc).__name__}): check the network, "
            "proxy and endpoint_url") from None


def _client_error(exc) -> tuple[str, str, int | None]:
    """(code, message, HTTP status) of a botocore ClientError. An endpoint answering in XML
    (a proxy, an S3-style error page) leaves botocore with the status as code and the body as
    message: the code and message are then taken from the XML."""
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code") or "unknown"), error.get("Message") or ""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if message.lstrip().startswith("<"):
        xml_code, xml_message = _XML_CODE.search(message), _XML_MESSAGE.search(message)
        code = xml_code.group(1) if xml_code else code
        message = xml_message.group(1) if xml_message else ""
    return code, redact_credentials(message.strip())[:300], status


def _milliseconds(value: datetime) -> int:
    return max(0, int(value.timestamp() * 1000))
