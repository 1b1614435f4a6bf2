"""First start: what `tollgate up` shows once, so a new install is usable at once.

- no admin token configured and none generated before -> generate one into DATA_DIR/admin-token;
- no key in the database -> create one named "first-key";
- no UI token configured and none generated before -> generate one into DATA_DIR/ui-token (not
  shown: the UI and the gateway started from the same data dir both read it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from gateway.db.session import open_database
from gateway.keys.admin_token import admin_token_path, generate_admin_token, resolve_admin_token
from gateway.keys.service import KeyService
from shared.schemas.keys import KeyCreate, KeyCreated
from shared.secret_files import UI_TOKEN
from shared.settings import Settings

FIRST_KEY_NAME = "first-key"


@dataclass(frozen=True, slots=True)
class FirstStart:
    """Secrets made just now; show them once. Either may be None (it existed already)."""

    admin_token: str | None
    admin_token_path: Path | None
    first_key: KeyCreated | None


async def ensure_first_start_async(settings: Settings) -> FirstStart | None:
    token: str | None = None
    if resolve_admin_token(settings) is None:
        token = generate_admin_token(settings)
    UI_TOKEN.ensure(settings)
    async with open_database(settings.resolved_database_url) as db:
        keys = KeyService(db.sessions)
        first = (
            await keys.create(KeyCreate(name=FIRST_KEY_NAME)) if await keys.count() == 0 else None
        )
    if token is None and first is None:
        return None
    return FirstStart(
        admin_token=token,
        admin_token_path=admin_token_path(settings) if token else None,
        first_key=first,
    )


def ensure_first_start(settings: Settings) -> FirstStart | None:
    """Synchronous form for the CLI (`tollgate up`); migrates the database as a side effect."""
    return asyncio.run(ensure_first_start_async(settings))
