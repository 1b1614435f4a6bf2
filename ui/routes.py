"""Every gateway route the UI calls, and the model it reads each answer with: the UI's whole
contract with the gateway, in one table that tests/ui/test_contract.py checks against the real
gateway app (the route exists, its documented answer is the model read here, real answers parse).

Answers the gateway owns (`/tollgate/*`, `/admin/*`) are read with the gateway's own models from
shared/schemas/, so there is one definition of each; answers the engine owns (vLLM's, relayed
unchanged) with ui/schemas.py's. Reading ignores fields a model does not name (pydantic's
default, relied on here on purpose), so a gateway or engine newer than the UI may add fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from shared.schemas.engine import EngineState
from shared.schemas.keys import KeyCreated, KeyInfo, KeyList, MeInfo
from shared.schemas.usage import KeyUsageReport, UsageReport
from ui.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    Detokenized,
    ModelList,
    RenderedTokens,
    Tokens,
)

AnswerT = TypeVar("AnswerT", bound=BaseModel, covariant=True)


@dataclass(frozen=True)
class GatewayRoute(Generic[AnswerT]):
    """One call the UI makes. `answer` reads the body; for a streamed route, each event."""

    method: str
    path: str  # `{name}` for a path parameter, as the gateway's OpenAPI document writes it
    answer: type[AnswerT]
    streamed: bool = False

    def url(self, **params: str) -> str:
        """The path with its parameters filled in, each quoted (an id never adds a segment)."""
        return self.path.format(**{name: quote(value, safe="") for name, value in params.items()})


# Key-authenticated: what a signed-in person sees.
ME = GatewayRoute("GET", "/tollgate/me", MeInfo)
MODELS = GatewayRoute("GET", "/v1/models", ModelList)
ENGINE = GatewayRoute("GET", "/tollgate/engine", EngineState)
MY_USAGE = GatewayRoute("GET", "/tollgate/usage", KeyUsageReport)
TOKENIZE = GatewayRoute("POST", "/tokenize", Tokens)
DETOKENIZE = GatewayRoute("POST", "/detokenize", Detokenized)
RENDER = GatewayRoute("POST", "/v1/chat/completions/render", RenderedTokens)
CHAT = GatewayRoute("POST", "/v1/chat/completions", ChatCompletion)
CHAT_STREAM = GatewayRoute("POST", "/v1/chat/completions", ChatCompletionChunk, streamed=True)
# Admin-token-authenticated: the Admin tab.
LIST_KEYS = GatewayRoute("GET", "/admin/keys", KeyList)
CREATE_KEY = GatewayRoute("POST", "/admin/keys", KeyCreated)
REVOKE_KEY = GatewayRoute("DELETE", "/admin/keys/{key_id}", KeyInfo)
USAGE_REPORT = GatewayRoute("GET", "/admin/usage", UsageReport)

ROUTES: tuple[GatewayRoute[BaseModel], ...] = (
    ME,
    MODELS,
    ENGINE,
    MY_USAGE,
    TOKENIZE,
    DETOKENIZE,
    RENDER,
    CHAT,
    CHAT_STREAM,
    LIST_KEYS,
    CREATE_KEY,
    REVOKE_KEY,
    USAGE_REPORT,
)
