"""A fake tokenizer: about one token per word (like a real BPE on English), reversible, cheap.

Text splits into pieces (a special token like `<|im_start|>`, a word with at most one leading
space, a lone `<`, or a run of whitespace), so `"hello world"` is two tokens and a prompt of N
words is about N tokens, which is what a load generator sizing prompts by words expects.
Counting needs no vocabulary; `/tokenize` and `/detokenize` use a per-engine vocabulary that
grows as pieces are seen (bounded; pieces past the bound get hashed ids that detokenize as
`<unk>`). Chats render with a ChatML template as SmolLM2's does.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

_PIECE = re.compile(r"<\|[A-Za-z0-9_]+\|>|\s?[^\s<]+|\s?<|\s+")

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# The answer a fake engine generates, token by token, cycling (every piece one token).
ANSWER_PIECES: tuple[str, ...] = (
    "The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", " while",
    " a", " fake", " engine", " streams", " tokens", " at", " a", " steady", " pace", " so",
    " that", " gateways", " and", " load", " generators", " can", " be", " measured",
    " without", " a", " model", ".",
)  # fmt: skip
_UNK = "<unk>"
_HASHED_BASE = 1 << 20  # ids from here up are hashed pieces past the vocabulary bound


def count_tokens(text: str) -> int:
    return len(_PIECE.findall(text))


def render_chat(
    messages: Iterable[Mapping[str, Any]], *, add_generation_prompt: bool = True
) -> str:
    """ChatML, as SmolLM2's template (without its default system message)."""
    parts = [
        f"<|im_start|>{message.get('role', 'user')}\n{_content_text(message.get('content'))}"
        "<|im_end|>\n"
        for message in messages
    ]
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _content_text(content: Any) -> str:
    """A message's text: a string, or the text parts of OpenAI's list-of-parts form."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


class Vocabulary:
    """Piece <-> id, grown on demand, so `detokenize(tokenize(text)) == text` for seen text."""

    def __init__(self, max_size: int = 200_000) -> None:
        self._max_size = max_size
        self._ids: dict[str, int] = {}
        self._pieces: list[str] = []
        for piece in (*SPECIAL_TOKENS, *ANSWER_PIECES):
            self._id(piece)

    def _id(self, piece: str) -> int:
        found = self._ids.get(piece)
        if found is not None:
            return found
        if len(self._pieces) >= self._max_size:
            return _HASHED_BASE + zlib.crc32(piece.encode()) % _HASHED_BASE
        self._ids[piece] = len(self._pieces)
        self._pieces.append(piece)
        return self._ids[piece]

    def encode(self, text: str) -> tuple[list[int], list[str]]:
        pieces = _PIECE.findall(text)
        return [self._id(piece) for piece in pieces], pieces

    def decode(self, ids: Iterable[int]) -> str:
        pieces = self._pieces
        return "".join(pieces[i] if 0 <= i < len(pieces) else _UNK for i in ids)

    def answer_ids(self, count: int) -> list[int]:
        return [self._ids[ANSWER_PIECES[i % len(ANSWER_PIECES)]] for i in range(count)]


def answer_text(count: int) -> str:
    return "".join(ANSWER_PIECES[i % len(ANSWER_PIECES)] for i in range(count))


# The probability of each answer token, cycling, so a view colouring tokens by it shows all
# three bands; each alternative (the answer's next pieces) gets half of what is left.
ANSWER_PROBABILITIES = (0.9, 0.5, 0.2)
MAX_TOP_LOGPROBS = 20  # vLLM's default --max-logprobs


def _logprob(piece: str, p: float) -> dict[str, Any]:
    return {"token": piece, "logprob": math.log(p), "bytes": list(piece.encode())}


def answer_logprobs(count: int, top: int) -> list[dict[str, Any]]:
    """vLLM's `choices[].logprobs.content` for an answer of `count` tokens: each token's
    log-probability and the `top` most likely tokens at that place, itself first (as vLLM)."""
    content = []
    for i in range(count):
        p = ANSWER_PROBABILITIES[i % len(ANSWER_PROBABILITIES)]
        piece = ANSWER_PIECES[i % len(ANSWER_PIECES)]
        alternatives = [
            _logprob(ANSWER_PIECES[(i + j) % len(ANSWER_PIECES)], (1 - p) / 2**j)
            for j in range(1, top)
        ]
        chosen = _logprob(piece, p)
        content.append({**chosen, "top_logprobs": [chosen, *alternatives] if top else []})
    return content


def embedding(text: str, dim: int) -> list[float]:
    """A deterministic unit-free vector: equal inputs give equal vectors."""
    seed = zlib.crc32(text.encode())
    return [((seed * (i + 1) * 2654435761) % 2000) / 1000.0 - 1.0 for i in range(dim)]


def embedding_base64(values: list[float]) -> str:
    """OpenAI's `encoding_format: base64`: little-endian float32, as the SDK decodes it."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
