"""The console's two filters (routine library chatter is DEBUG, records are scrubbed of credentials) and its JSON
formatter (LOG_FORMAT=json).

Code never logs secrets on purpose; the redaction filter catches the accidents (an exception message that echoes
a request, a CCXT debug line with a signed URL) before they reach a log file. Error reports to Sentry pass through
the same `redact` (aresbot/sentry.py).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

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


class RoutineLibraryLinesAreDebug(logging.Filter):
    """RQ logs every job at INFO: four lines per supervisor pass, every few seconds on every node, drowning the
    lines that matter. Its INFO records are shown as DEBUG, so only with LOG_LEVEL=DEBUG; its warnings and errors
    (a cold shutdown, a lost Redis, a job's traceback) stay as they are. What AresBot does (a strategy started,
    stopped or handed over, a fill, a queued strategy) it logs itself, in the trader's words."""

    def __init__(self, prefixes: tuple[str, ...] = ("rq.",)) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and record.name.startswith(self.prefixes):
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            # The logger's own level let the record through as INFO; the configured level decides as DEBUG.
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


# The runtime's lines about one strategy start "strategy 12: …"; the JSON line gives shippers that id as a field.
_STRATEGY_LINE = re.compile(r"^strategy (\d+):")


class JsonFormatter(logging.Formatter):
    """One JSON object per line for log shippers: time (ISO 8601, UTC), level, logger, message, `strategy_id` when
    the record carries one (`extra={"strategy_id": …}`, or a message that starts "strategy <id>:"), and the
    exception's traceback as `exception`.

    The console handler's RedactSecretsFilter has scrubbed the message and rendered the traceback scrubbed into
    exc_text before this runs; a traceback still unrendered (a handler without the filter) is scrubbed here."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        strategy_id = getattr(record, "strategy_id", None)
        if strategy_id is None and (named := _STRATEGY_LINE.match(str(line["message"]))):
            strategy_id = int(named.group(1))
        if strategy_id is not None:
            line["strategy_id"] = strategy_id
        exception = record.exc_text
        if record.exc_info and record.exc_info[1] is not None:
            exception = redact(self.formatException(record.exc_info))
        if exception:
            line["exception"] = exception
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)
