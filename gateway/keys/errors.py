"""Authentication failures, one message per cause. None of them repeats the presented key."""

from __future__ import annotations

from datetime import datetime

from gateway.db.errors import DatabaseUnavailable
from gateway.errors import AuthenticationFailed, NotFound
from gateway.keys.tokens import looks_like_key


def missing_key() -> AuthenticationFailed:
    return AuthenticationFailed(
        "Missing API key: send it in the Authorization header as 'Bearer tg-…'."
    )


def malformed_authorization() -> AuthenticationFailed:
    return AuthenticationFailed("Malformed Authorization header: expected 'Bearer <API key>'.")


def malformed_key() -> AuthenticationFailed:
    return AuthenticationFailed(
        "Malformed API key: Tollgate keys start with 'tg-' followed by 43 characters; "
        "check that the whole key was copied."
    )


def unknown_key() -> AuthenticationFailed:
    return AuthenticationFailed(
        "Invalid API key: no such key. Check that it was copied completely, "
        "or ask your Tollgate admin for a new one."
    )


def revoked_key(key_id: str) -> AuthenticationFailed:
    return AuthenticationFailed(
        f"This API key ({key_id}) has been revoked; ask your Tollgate admin for a new one."
    )


def expired_key(key_id: str, expired_at: datetime) -> AuthenticationFailed:
    when = expired_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return AuthenticationFailed(
        f"This API key ({key_id}) expired at {when}; ask your Tollgate admin to extend it "
        "or for a new one."
    )


class KeyNotFound(NotFound):
    default_code = "key_not_found"

    def __init__(self, key_id: str) -> None:
        if looks_like_key(key_id) or key_id.startswith("tg-"):
            # Someone pasted the key itself: say so without repeating it anywhere.
            message = "That is an API key, not a key id: key ids look like key_1a2b…"
        else:
            shown = key_id if len(key_id) <= 64 else key_id[:64] + "…"
            message = f"No API key with id {shown!r}."
        super().__init__(message, param="id")


class KeyStoreUnavailable(DatabaseUnavailable):
    """Keys cannot be checked because the database is down; callers get a 503, not a 500."""

    def __init__(self) -> None:
        super().__init__(
            "API keys cannot be checked right now (the key database is unreachable); "
            "try again shortly."
        )
