"""Secrets never reach the logs: a filter that masks passwords, tokens and keys in log records."""

import logging
import re

_PATTERN = re.compile(
    r"(?i)(password|passwd|secret|token|api[_-]?key|authorization|sessionid|csrftoken)(['\"]?\s*[:=]\s*['\"]?)"
    r"((?:token|bearer|basic)\s+)?([^'\"\s,;&}]+)"
)


def redact(text: str) -> str:
    return _PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}***", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - never let logging break the request
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (the production profile's logs): time, level, logger, message, the fields a
    log call passes in `extra=` (the access log's method, path, status, duration) and the traceback, if any."""

    _standard = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        import datetime
        import json

        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._standard and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)
