"""The gateway's errors as the UI sees them, and the plain words a person reads for each.

    GatewayError             any answer that is not a success, or no answer at all
    ├── status 0             the gateway could not be reached or did not answer in time
    ├── status 401           wrong, missing, expired or revoked key
    ├── status 403           model not allowed for this key
    ├── status 400/413/422   the request itself (prompt too long, bad parameter…)
    ├── status 429           a limit was reached; `retry_after_s` says how long to wait
    └── status 502/503/504   the engine behind the gateway is down, busy or slow

The gateway's own message is kept (`message`) and shown after the plain words, so nothing the
gateway says is lost, but a person is never left with only "HTTP 503".
"""

from __future__ import annotations

import math
import re
from typing import Any

# Words in the gateway's 401 message that tell the kinds of bad key apart.
_EXPIRED = re.compile(r"\bexpired\b", re.IGNORECASE)
_REVOKED = re.compile(r"\brevoked\b", re.IGNORECASE)
_MISSING = re.compile(r"\b(missing|no api key|not provided)\b", re.IGNORECASE)
_CONTEXT = re.compile(
    r"(max_model_len|context length|maximum context|too long|prompt.*tokens)", re.IGNORECASE
)


class GatewayError(Exception):
    """A failed exchange with the gateway. `status` is 0 when there was no HTTP answer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str | None = None,
        code: str | int | None = None,
        param: str | None = None,
        retry_after_s: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.retry_after_s = retry_after_s
        self.request_id = request_id

    @classmethod
    def from_body(
        cls,
        status: int,
        body: Any,
        *,
        retry_after_s: float | None = None,
        request_id: str | None = None,
    ) -> GatewayError:
        """Build from an OpenAI-shaped error body; anything else becomes a generic message."""
        detail = body.get("error") if isinstance(body, dict) else None
        if isinstance(detail, dict):
            return cls(
                status,
                str(detail.get("message") or "").strip() or f"HTTP {status}",
                type_=detail.get("type"),
                code=detail.get("code"),
                param=detail.get("param"),
                retry_after_s=retry_after_s,
                request_id=request_id,
            )
        if isinstance(detail, str):  # some servers answer {"error": "text"}
            return cls(status, detail, retry_after_s=retry_after_s, request_id=request_id)
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            return cls(status, body["detail"], retry_after_s=retry_after_s, request_id=request_id)
        return cls(status, f"HTTP {status}", retry_after_s=retry_after_s, request_id=request_id)

    @property
    def is_unreachable(self) -> bool:
        return self.status == 0

    def plain(self) -> str:
        """What a person reads: what happened and what to do, then the gateway's own words."""
        return plain_words(self)


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (the gateway sends seconds; an HTTP date is not expected)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


def _wait_words(seconds: float | None) -> str:
    if seconds is None:
        return "Please wait a little and try again."
    whole = max(1, math.ceil(seconds))
    if whole < 90:
        return f"Try again in {whole} second{'s' if whole != 1 else ''}."
    return f"Try again in about {math.ceil(whole / 60)} minutes."


def key_problem(error: GatewayError) -> str:
    """Plain words for a 401: which kind of bad key, from the gateway's message."""
    if _EXPIRED.search(error.message) or error.code == "key_expired":
        return "This key has expired. Ask your Tollgate admin for a new one."
    if _REVOKED.search(error.message) or error.code == "key_revoked":
        return "This key has been revoked. Ask your Tollgate admin for a new one."
    if _MISSING.search(error.message):
        return "Enter your API key (it starts with tg-)."
    return "That key was not recognised. Check that you copied all of it (it starts with tg-)."


def plain_words(error: GatewayError) -> str:
    """Plain words for every kind of gateway failure; the gateway's message follows in brackets."""
    status = error.status
    if status == 0:
        return f"The Tollgate gateway cannot be reached right now. {error.message}"
    if status == 401:
        text = key_problem(error)
    elif status == 403:
        text = "Your key is not allowed to do this."
    elif status == 404:
        text = "The gateway does not know this route or model."
    elif status == 413:
        text = "The request is too large for the gateway. Shorten the conversation or clear it."
    elif status == 429:
        text = f"You have reached a usage limit of your key. {_wait_words(error.retry_after_s)}"
    elif status in (400, 422) and _CONTEXT.search(error.message):
        text = (
            "The conversation is too long for the model's context window. "
            "Clear the chat, shorten your message, or lower Max tokens."
        )
    elif status in (400, 422):
        text = "The gateway refused this request."
    elif status == 502:
        text = "The model engine answered with an error. Try again in a moment."
    elif status == 503:
        text = (
            "The model engine is not available right now (it may be starting or restarting). "
            "Try again in a minute."
        )
    elif status == 504:
        text = "The model engine took too long to answer. Try again, or ask for fewer tokens."
    elif status >= 500:
        text = "The gateway had a problem with this request. Try again in a moment."
    else:
        text = f"The gateway answered with status {status}."
    if error.message and error.message != f"HTTP {status}":
        text = f"{text} (Gateway: {error.message})"
    return text
