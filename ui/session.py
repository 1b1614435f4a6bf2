"""A signed-in browser session: the key (held only in this session's `gr.State`), who it
belongs to, and the models it may use.

The key is a `SecretStr`, so a session printed in a log or a traceback shows `**********`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from shared.schemas.keys import MeInfo
from ui.client import GatewayClient
from ui.errors import GatewayError
from ui.schemas import ModelCard

KEY_PREFIX = "tg-"


class SignInError(Exception):
    """Sign-in refused before or by the gateway; the message is meant for the person."""


@dataclass
class Session:
    key: SecretStr
    me: MeInfo
    models: list[ModelCard] = field(default_factory=list)
    models_error: str | None = None  # why the model list is empty, if it is

    @property
    def token(self) -> str:
        return self.key.get_secret_value()

    def model(self, model_id: str | None) -> ModelCard | None:
        return next((m for m in self.models if m.id == model_id), None)

    @property
    def model_ids(self) -> list[str]:
        return [m.id for m in self.models]

    def describe(self) -> str:
        team = f" · team {self.me.team}" if self.me.team else ""
        return (
            f"Signed in as **{self.me.name}**{team} · key `{self.me.prefix}…` · tier {self.me.tier}"
        )


async def sign_in(client: GatewayClient, raw_key: str | None) -> Session:
    """Check the key with the gateway (GET /tollgate/me) and load the models it may use."""
    key = (raw_key or "").strip()
    if not key:
        raise SignInError("Enter your API key (it starts with tg-).")
    if not (key.isascii() and key.isprintable()) or " " in key or len(key) > 512:
        raise SignInError("That does not look like an API key. Paste the whole key, and only it.")
    try:
        me = await client.me(key)
    except GatewayError as exc:
        raise SignInError(exc.plain()) from None
    session = Session(key=SecretStr(key), me=me)
    try:
        models = await client.models(key)
    except GatewayError as exc:
        # Signed in all the same: the key is good, only the engine is not answering yet.
        session.models_error = exc.plain()
        return session
    allowed = set(me.allowed_models) if me.allowed_models is not None else None
    session.models = [m for m in models if allowed is None or m.id in allowed]
    return session
