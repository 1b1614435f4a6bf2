"""A request's token reservation, estimated cheaply before the engine sees it.

OpenAI's own rule: prompt tokens from the request's size (about four bytes per token; the JSON
around the text makes this an over-estimate for chat), plus the most the answer may be
(`max_tokens` times `n`), or a configured cap when the request sets none. The reservation is
settled to the engine's real count when the answer ends, so the estimate only decides whether
a request fits now, never what it costs.
"""

from __future__ import annotations

import math

from gateway.proxy.hooks import ProxyRequest
from shared.settings import LimitSettings

# Routes whose answers the engine generates; embeddings use only their input.
GENERATING_ROUTES = frozenset(
    {"/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages"}
)
PROMPT_ONLY_ROUTES = frozenset({"/v1/embeddings"})


class TokenEstimator:
    def __init__(self, settings: LimitSettings) -> None:
        self._bytes_per_token = settings.bytes_per_token
        self._completion = settings.completion_estimate_tokens
        self._cap = settings.max_estimate_tokens

    def __call__(self, request: ProxyRequest) -> int:
        """Tokens to reserve; 0 for routes that generate nothing (listing, tokenizing)."""
        route = request.route
        if route in GENERATING_ROUTES:
            completion = request.max_tokens if request.max_tokens is not None else self._completion
            completion *= max(request.n, 1)
        elif route in PROMPT_ONLY_ROUTES:
            completion = 0
        else:
            return 0
        return max(1, min(self.prompt(request.body_bytes) + completion, self._cap))

    def prompt(self, body_bytes: int) -> int:
        return math.ceil(body_bytes / self._bytes_per_token)
