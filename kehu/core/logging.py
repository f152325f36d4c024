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
