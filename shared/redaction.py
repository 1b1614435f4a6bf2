"""Redacting secrets from text that is about to be logged.

Two strengths:
- `redact_secrets`: API keys (`tg-…`, `sk-…`) and bearer tokens. The logging set-up runs it on
  every log line as a safety net: no code path logs a key on purpose, and if one ever did (an
  exception message quoting a header, say), the key still never reaches the log.
- `redact_content`: secrets plus what a prompt typically carries that logs must not (e-mail
  addresses, JSON web tokens, cloud access keys, long hex or base64 secrets); used by the
  opt-in logging of prompts and answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

REDACTED = "[REDACTED]"

# A display prefix ("tg-" + 8 characters) is fine to log; a key (43 characters) is not.
_SECRETS = re.compile(
    r"\btg-[A-Za-z0-9_-]{20,}"
    r"|\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}"
    r"|(?i:\bbearer)\s+[A-Za-z0-9._~+/=-]{8,}"
)
_CONTENT = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"  # e-mail addresses
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b"  # GitHub tokens
    r"|\b[0-9a-fA-F]{40,}\b"  # long hex secrets
    r"|\b[A-Za-z0-9+/]{48,}={0,2}"  # long base64 blobs (keys, credentials)
)
# Cheap pre-checks, so lines without any candidate skip the regular expression.
_SECRET_HINTS = ("tg-", "sk-", "earer", "EARER")


def redact_secrets(text: str) -> str:
    if not any(hint in text for hint in _SECRET_HINTS):
        return text
    return _SECRETS.sub(REDACTED, text)


def redact_content(text: str) -> str:
    return _CONTENT.sub(REDACTED, redact_secrets(text))


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if depth >= 6:
        return value
    if isinstance(value, Mapping):
        return {k: _scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, depth + 1) for v in value)
    return value


def redact_event(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: `redact_secrets` over every string of a log line."""
    for key, value in event_dict.items():
        if isinstance(value, str | Mapping | list | tuple):
            event_dict[key] = _scrub(value)
    return event_dict
