"""Remove credentials written inside free text (definitions, error messages, log lines).

Definitions can hold connection strings (``dblink('host=... password=...')``, a literal in a
function body); those passwords must never leave the server, whether masking is on or not.
"""

import re

REDACTED = "********"

# The patterns are written once, for Python and for PostgreSQL's regular expressions (the
# extractor has the server redact what it renders itself): only the word boundary differs.
# key=value pairs of libpq conninfo strings and similar "secret-ish" settings; the value may be
# single-quoted (conninfo quoting, doubled when the conninfo sits in a SQL literal), double-quoted,
# or bare up to whitespace or a quote/separator.
_KEYS = "password|passwd|pwd|sslpassword|secret|access_?key|secret_?key|account_?key|sas_?token|sig|token"
_VALUE = r"""''(?:[^']|'''')*''|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*"|[^\s'";&|,)]+"""
_KEY_VALUE_PATTERN = r"(\b(?:" + _KEYS + r")\b\s*[=:]\s*)(?:" + _VALUE + ")"
# user:password@ inside URIs (postgresql://, https://, ...).
_URI_PATTERN = r"""(\b[a-z][a-z0-9+.-]*://[^/\s:@'"]+:)[^@\s'"/]+(?=@)"""
_KEY_VALUE = re.compile(_KEY_VALUE_PATTERN, re.IGNORECASE)
_URI_USERINFO = re.compile(_URI_PATTERN, re.IGNORECASE)
# For PostgreSQL's advanced regular expressions, whose word boundary is \y; flags 'gi'.
SQL_PATTERNS = tuple(p.replace(r"\b", r"\y") for p in (_KEY_VALUE_PATTERN, _URI_PATTERN))
# Both patterns keep their first group (the key, or the URI up to the secret) and drop the value.
REPLACEMENT = r"\1" + REDACTED


def redact_credentials(text):
    """Return ``text`` with every credential value replaced by ``********``. ``None`` stays ``None``."""
    # Every pattern needs '=' or ':' (key=value, key: value, scheme://user:secret@): most text has
    # neither, and this check is far cheaper than the regular expressions.
    if not text or ("=" not in text and ":" not in text):
        return text
    text = _KEY_VALUE.sub(REPLACEMENT, text)
    return _URI_USERINFO.sub(REPLACEMENT, text)
