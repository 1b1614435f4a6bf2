"""Alembic migrations, packaged with the code so an installed wheel can migrate its database.

Run through `gateway.db.migrate`, never a separate `alembic.ini`. To add a revision after
changing the models (from the repository root):

    .venv/bin/python -m gateway.db.revision "add usage ledger"
"""
