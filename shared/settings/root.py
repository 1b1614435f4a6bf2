"""The root `Settings`: top-level variables, one field per section, and `load_settings`."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_data_path
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.settings.engine import EngineSettings
from shared.settings.gateway import GatewaySettings, RoutingSettings
from shared.settings.limits import KeySettings, LimitSettings, UsageSettings
from shared.settings.scheduling import SchedulingSettings
from shared.settings.tracing import TracingSettings
from shared.settings.ui import UISettings

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"


def _split_csv(value: Any) -> Any:
    """Accept `a,b` from the environment as well as a real list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything configurable, read from `TOLLGATE_*` variables and `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="TOLLGATE_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Field(
        default_factory=lambda: user_data_path("tollgate"),
        description="models, the SQLite database and generated secrets live here",
    )
    log_format: Literal["json", "console", "auto"] = Field(
        default="auto", description="json, console, or auto (console in a terminal)"
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_content: bool = Field(
        default=False,
        description="log prompts and answers (secrets redacted, truncated); off = never logged",
    )
    log_content_max_chars: int = Field(
        default=2000, ge=0, description="longest prompt or answer text in one content log line"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; unset = SQLite file in the data dir"
    )
    redis_url: str | None = Field(
        default=None, description="unset = in-process limits; set = limits shared across gateways"
    )
    upstreams: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000"],
        description="engine base URLs, comma-separated",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="bearer token for /admin; unset = generated on first `tollgate up`",
    )
    ui_token: SecretStr | None = Field(
        default=None,
        description="secret shared by UI and gateway: UI chats may run interactive; "
        "unset = DATA_DIR/ui-token, generated on first `tollgate up`",
    )

    engine: EngineSettings = Field(default_factory=EngineSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    ui: UISettings = Field(default_factory=UISettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    usage: UsageSettings = Field(default_factory=UsageSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)

    _split_upstreams = field_validator("upstreams", mode="before")(_split_csv)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected redis://host:port/db, rediss://… (TLS) or unix:///path")
        return value or None

    @field_validator("upstreams")
    @classmethod
    def _strip_trailing_slash(cls, value: list[str]) -> list[str]:
        return [url.rstrip("/") for url in value]

    @cached_property
    def default_model_dir(self) -> Path:
        return self.data_dir / "models" / DEFAULT_MODEL_NAME

    @property
    def model_dir(self) -> Path:
        """The model the engine serves: `--model`, else the embedded default."""
        return self.engine.model or self.default_model_dir

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'tollgate.db'}"

    def with_section(self, section: str, **changes: Any) -> Settings:
        """A copy with CLI flags applied to one section; `None` means 'flag not given'."""
        given = {k: v for k, v in changes.items() if v is not None}
        if not given:
            return self
        current: BaseModel = getattr(self, section)
        return self.model_copy(update={section: current.model_copy(update=given)})


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and `.env`; keyword overrides win."""
    return Settings(**overrides)
