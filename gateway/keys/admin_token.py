"""The admin token: `TOLLGATE_ADMIN_TOKEN`, else the one `tollgate up` generated on first start
(DATA_DIR/admin-token, mode 0600). Unset in both places = the admin API is disabled. The file
handling is shared with the UI token (shared/secret_files.py)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from shared.secret_files import ADMIN_TOKEN, SecretFileError
from shared.settings import Settings

ADMIN_TOKEN_FILE = ADMIN_TOKEN.file_name
ADMIN_TOKEN_SCHEME = ADMIN_TOKEN.scheme

AdminTokenError = SecretFileError  # the persisted admin token exists but cannot be read


def admin_token_path(settings: Settings) -> Path:
    return ADMIN_TOKEN.path(settings)


def resolve_admin_token(settings: Settings) -> SecretStr | None:
    """The token the admin API accepts, or None when none is configured anywhere."""
    return ADMIN_TOKEN.resolve(settings)


def generate_admin_token(settings: Settings) -> str | None:
    """Create DATA_DIR/admin-token (0600) with a new token and return it; None if the file
    exists already (it was generated and shown before)."""
    return ADMIN_TOKEN.generate(settings)
