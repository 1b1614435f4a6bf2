"""Developer tool: write a new migration from the difference between the models and head.

    .venv/bin/python -m gateway.db.revision "add usage ledger"

It migrates a throw-away SQLite database to head and lets Alembic autogenerate against it;
review the generated file (and run the tests on SQLite and PostgreSQL) before committing.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from gateway.db.migrate import alembic_config, migrate_to_head


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].strip():
        sys.stderr.write('usage: python -m gateway.db.revision "what changes"\n')
        return 2
    message = argv[0].strip()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'head.db'}"
        asyncio.run(migrate_to_head(url))
        config = alembic_config(url)
        count = len(list(ScriptDirectory.from_config(config).walk_revisions()))
        slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40]
        script = command.revision(
            config, message, autogenerate=True, rev_id=f"{count + 1:04d}_{slug}"
        )
    paths = [s.path for s in (script if isinstance(script, list) else [script]) if s is not None]
    # Alembic's output is not in the repository's style; ruff (a dev tool) fixes that.
    subprocess.run([sys.executable, "-m", "ruff", "format", *paths], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
