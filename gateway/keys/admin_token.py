"""The admin token: `TOLLGATE_ADMIN_TOKEN`, else the one `tollgate up` generated on first start
(DATA_DIR/admin-token, mode 0600). Unset in both places = the admin API is disabled."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from pydantic import SecretStr

from shared.logging import get_logger
from shared.settings import Settings

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name
ADMIN_TOKEN_SCHEME = "tgadmin-"  # noqa: S105 - not "tg-": an admin token is never mistaken for an API key

log = get_logger("gateway.admin")


class AdminTokenError(RuntimeError):
    """The persisted admin token exists but cannot be read."""


def admin_token_path(settings: Settings) -> Path:
    return settings.data_dir / ADMIN_TOKEN_FILE


def resolve_admin_token(settings: Settings) -> SecretStr | None:
    """The token the admin API accepts, or None when none is configured anywhere."""
    if settings.admin_token is not None:
        configured = settings.admin_token.get_secret_value().strip()
        if configured:
            return SecretStr(configured)
    path = admin_token_path(settings)
    try:
        text = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AdminTokenError(f"cannot read the admin token file {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("admin token file is readable by other users; chmod 600 it", path=str(path))
    return SecretStr(text) if text else None


def generate_admin_token(settings: Settings) -> str | None:
    """Create DATA_DIR/admin-token (0600) with a new token and return it; None if the file
    exists already (it was generated and shown before)."""
    path = admin_token_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = ADMIN_TOKEN_SCHEME + secrets.token_urlsafe(32)
    try:
        # O_EXCL: two starts at once cannot both write (and show) a different token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token
