"""A last line of defence: log records are scrubbed of anything shaped like a credential.

Code never logs secrets on purpose; this filter catches the accidents (an exception message that echoes a
request, a CCXT debug line with a signed URL) before they reach a log file.
"""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    # key=value and "key": "value" pairs whose key names a credential; a quoted value is scrubbed whole
    re.compile(
        r"""(?P<key>["']?(?:api[_-]?key|api[_-]?secret|access[_-]?key|access[_-]?sign|private[_-]?key|secret"""
        r"""|passphrase|password|token|signature|apikey)["']?\s*[:=]\s*)"""
        r"""(?P<value>"[^"]*"|'[^']*'|[^"'\s&,}]+)""",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<key>X-MBX-APIKEY['\"]?\s*[:=]\s*['\"]?)(?P<value>[A-Za-z0-9]+)", re.IGNORECASE),
    re.compile(
        r"(?P<key>Authorization['\"]?\s*[:=]\s*['\"]?(?:Token|Bearer)\s+)(?P<value>\S+?)(?=['\"\s]|$)", re.IGNORECASE
    ),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group('key')}[redacted]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, scrubbed, so the handler does not re-render the raw exception.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True
