"""Every ORM model; importing this package registers them all on `Base.metadata`
(which the migrations compare against)."""

from gateway.db.models.api_key import TIERS, ApiKey
from gateway.db.models.base import Base
from gateway.db.models.team import Team
from gateway.db.models.usage_record import UsageRecord

__all__ = ["TIERS", "ApiKey", "Base", "Team", "UsageRecord"]
