"""The engine routes the gateway proxies, and what each one's body must contain.

Paths are the engine's own (vLLM's OpenAI server), so a client switches from the engine to the
gateway by changing only its base URL and key.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.proxy.bodies import BodySpec, Kind

_MESSAGES: tuple[str, Kind] = ("messages", "array")


@dataclass(frozen=True)
class ProxyRoute:
    method: str
    path: str  # the gateway's route template, also the engine's path
    summary: str
    tag: str
    body: BodySpec | None = None  # None: no body (GET), or one without a model
    lists_models: bool = False  # /v1/models: filtered to the key's allowed models
    # Streams take OpenAI's `stream_options.include_usage`: the gateway always asks for usage.
    stream_usage: bool = False


OPENAI = "OpenAI API"
INSPECTION = "Inspection"

PROXY_ROUTES: tuple[ProxyRoute, ...] = (
    ProxyRoute("GET", "/v1/models", "List the models this key may use", OPENAI, lists_models=True),
    ProxyRoute(
        "POST",
        "/v1/chat/completions",
        "Create a chat completion (streams with `stream: true`)",
        OPENAI,
        BodySpec(required=(_MESSAGES,)),
        stream_usage=True,
    ),
    ProxyRoute(
        "POST",
        "/v1/completions",
        "Create a text completion (streams with `stream: true`)",
        OPENAI,
        BodySpec(required=(("prompt", "string_or_array"),)),
        stream_usage=True,
    ),
    ProxyRoute(
        "POST",
        "/v1/embeddings",
        "Create embeddings (when the engine serves an embedding model)",
        OPENAI,
        BodySpec(required=(("input", "string_or_array"),)),
    ),
    ProxyRoute(
        "POST",
        "/v1/responses",
        "Create a model response (OpenAI Responses API)",
        OPENAI,
        BodySpec(required=(("input", "string_or_array"),)),
    ),
    ProxyRoute(
        "POST",
        "/v1/messages",
        "Create a message (Anthropic Messages API)",
        OPENAI,
        BodySpec(required=(_MESSAGES, ("max_tokens", "integer"))),
    ),
    ProxyRoute(
        "POST",
        "/v1/messages/count_tokens",
        "Count the tokens of a message (Anthropic Messages API)",
        OPENAI,
        BodySpec(required=(_MESSAGES,)),
    ),
    ProxyRoute(
        "POST",
        "/tokenize",
        "Tokenize a prompt or chat messages",
        INSPECTION,
        BodySpec(one_of=((("prompt", "string"), _MESSAGES),)),
    ),
    ProxyRoute(
        "POST",
        "/detokenize",
        "Turn token ids back into text",
        INSPECTION,
        BodySpec(required=(("tokens", "array"),)),
    ),
    ProxyRoute(
        "POST",
        "/v1/chat/completions/render",
        "Render chat messages through the model's chat template",
        INSPECTION,
        BodySpec(required=(_MESSAGES,)),
    ),
)

# Stored responses, addressed by id (no model in the request to check).
RESPONSE_GET = ProxyRoute("GET", "/v1/responses/{response_id:str}", "Retrieve a response", OPENAI)
RESPONSE_CANCEL = ProxyRoute(
    "POST", "/v1/responses/{response_id:str}/cancel", "Cancel a background response", OPENAI
)
