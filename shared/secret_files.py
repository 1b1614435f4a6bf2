"""Secrets Tollgate generates on first start and keeps in DATA_DIR (mode 0600).

Each one is a setting first (`TOLLGATE_ADMIN_TOKEN`, `TOLLGATE_UI_TOKEN`), else the file
`tollgate up` generated. The admin token guards /admin; the UI token is shared by `tollgate ui`
and `tollgate gateway` so the gateway can tell the UI's own calls (chat runs interactive) from
a client's. Shared, not gateway-only: the UI process resolves the UI token too, and never
imports the gateway.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from shared.logging import get_logger
from shared.settings import Settings

log = get_logger("tollgate.secrets")


class SecretFileError(RuntimeError):
    """A generated secret's file exists but cannot be read."""


@dataclass(frozen=True, slots=True)
class GeneratedSecret:
    what: str  # in messages: "admin token"
    file_name: str
    scheme: str  # a prefix that tells the kinds of secret apart at a glance
    setting: Callable[[Settings], SecretStr | None]

    def path(self, settings: Settings) -> Path:
        return settings.data_dir / self.file_name

    def resolve(self, settings: Settings) -> SecretStr | None:
        """The setting (when not blank), else the generated file, else None."""
        configured = self.setting(settings)
        if configured is not None and configured.get_secret_value().strip():
            return SecretStr(configured.get_secret_value().strip())
        path = self.path(settings)
        try:
            text = path.read_text(encoding="utf-8").strip()
            mode = path.stat().st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretFileError(
                f"cannot read the {self.what} file {path}: {exc.strerror}"
            ) from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                f"{self.what} file is readable by other users; chmod 600 it", path=str(path)
            )
        return SecretStr(text) if text else None

    def generate(self, settings: Settings) -> str | None:
        """Create the file (0600) with a new secret and return it; None if the file exists
        already (it was generated, and maybe shown, before)."""
        path = self.path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        token = self.scheme + secrets.token_urlsafe(32)
        try:
            # O_EXCL: two starts at once cannot both write (and show) a different secret.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return None
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(token + "\n")
        return token

    def ensure(self, settings: Settings) -> str | None:
        """Generate the secret unless one is configured or generated already; the new one."""
        return self.generate(settings) if self.resolve(settings) is None else None


# "tgadmin-"/"tgui-", not "tg-": neither is ever mistaken for an API key.
ADMIN_TOKEN = GeneratedSecret("admin token", "admin-token", "tgadmin-", lambda s: s.admin_token)
UI_TOKEN = GeneratedSecret("UI token", "ui-token", "tgui-", lambda s: s.ui_token)
