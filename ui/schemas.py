"""The engine's answers as the UI reads them, and the UI's own reductions of them.

The gateway relays these routes' answers from the engine unchanged, so their shape is vLLM's
OpenAI server's, not the gateway's: the models below read only the fields the UI shows. The
gateway's own answers (`/tollgate/*`, `/admin/*`) are read with the gateway's models, from
shared/schemas/ (see ui/routes.py).

Every model here ignores fields it does not know and defaults those it may miss: vLLM adds
fields from release to release, and the UI must keep working across them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ModelCard(_Lenient):
    """One entry of GET /v1/models."""

    id: str
    root: str | None = None
    owned_by: str | None = None
    created: int | None = None
    max_model_len: int | None = None


class ModelList(_Lenient):
    """GET /v1/models."""

    data: list[ModelCard] = Field(default_factory=list)


class Tokens(_Lenient):
    """POST /tokenize."""

    count: int
    max_model_len: int | None = None
    tokens: list[int] = Field(default_factory=list)
    token_strs: list[str] | None = None


class Detokenized(_Lenient):
    """POST /detokenize."""

    prompt: str = ""


class RenderedTokens(_Lenient):
    """POST /v1/chat/completions/render: the token ids the chat template makes of a chat."""

    token_ids: list[int] = Field(default_factory=list)


class TopLogprob(_Lenient):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(_Lenient):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class Usage(_Lenient):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class _ChoiceLogprobs(_Lenient):
    content: list[TokenLogprob] | None = None


class _AssistantMessage(_Lenient):
    content: str | None = None


class _CompletionChoice(_Lenient):
    message: _AssistantMessage = Field(default_factory=_AssistantMessage)
    finish_reason: str | None = None
    logprobs: _ChoiceLogprobs | None = None


class ChatCompletion(_Lenient):
    """POST /v1/chat/completions, not streamed."""

    choices: list[_CompletionChoice] = Field(default_factory=list)
    usage: Usage | None = None

    def reduced(self) -> Completion:
        """The first choice's text, finish reason and log-probabilities, and the usage."""
        choice = self.choices[0] if self.choices else _CompletionChoice()
        return Completion(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            logprobs=(choice.logprobs.content or []) if choice.logprobs else [],
            usage=self.usage,
        )


class _Delta(_Lenient):
    content: str | None = None


class _ChunkChoice(_Lenient):
    delta: _Delta = Field(default_factory=_Delta)
    finish_reason: str | None = None


class ChatCompletionChunk(_Lenient):
    """One server-sent event of a streamed POST /v1/chat/completions."""

    choices: list[_ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None

    def reduced(self) -> StreamEvent:
        choice = self.choices[0] if self.choices else _ChunkChoice()
        return StreamEvent(
            text=choice.delta.content or "", finish_reason=choice.finish_reason, usage=self.usage
        )


# -- the UI's reductions ----------------------------------------------------------------------


class RenderedPrompt(BaseModel):
    """The prompt the chat template produces: its token ids and its text."""

    token_ids: list[int]
    text: str
    source: str = Field(description="which route produced it: render or tokenize")


class Completion(BaseModel):
    """A non-streamed chat completion, reduced to what the UI shows."""

    text: str
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] = Field(default_factory=list)
    usage: Usage | None = None


class StreamEvent(BaseModel):
    """One piece of a streamed answer: new text, or the end with its reason and usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
