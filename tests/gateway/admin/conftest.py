from tests.gateway.db.databases import database_url, db

__all__ = ["database_url", "db"]
