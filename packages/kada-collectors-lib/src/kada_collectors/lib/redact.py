"""Remove credentials written inside free text (definitions, error messages, log lines).

Definitions can hold connection strings (``dblink('host=... password=...')``, a literal in a
function body); those passwords must never leave the server, whether masking is on or not.
"""

import re

REDACTED = "********"

# key=value pairs of libpq conninfo strings and similar "secret-ish" settings; the value may be
# single-quoted (conninfo quoting, doubled when the conninfo sits in a SQL literal), double-quoted, or bare up to whitespace or a quote/separator.
_KEY_VALUE = re.compile(
    r"""(?ix)
    (?P<key>\b(?:password|passwd|pwd|sslpassword|secret|access_?key|secret_?key|
                 account_?key|sas_?token|sig|token)\b\s*[=:]\s*)
    (?P<value>''(?:[^']|'''')*''|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*"|[^\s'";&|,)]+)
    """
)
# user:password@ inside URIs (postgresql://, https://, ...).
_URI_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:)(?P<value>[^@\s'\"/]+)(?=@)", re.I)


def redact_credentials(text):
    """Return ``text`` with every credential value replaced by ``********``. ``None`` stays ``None``."""
    # Every pattern needs '=' or ':' (key=value, key: value, scheme://user:secret@): most text has
    # neither, and this check is far cheaper than the regular expressions.
    if not text or ("=" not in text and ":" not in text):
        return text
    text = _KEY_VALUE.sub(lambda m: m.group("key") + REDACTED, text)
    return _URI_USERINFO.sub(lambda m: m.group("scheme") + REDACTED, text)
