"""Turning a tokenizer's token strings back into the text each token stands for.

`/tokenize` returns the vocabulary's spelling of each token. Byte-level BPE tokenizers
(GPT-2, Llama 3, Qwen, SmolLM…) spell bytes with a printable alphabet (`Ġ` is a space, `Ċ`
a newline); SentencePiece tokenizers use `▁` for a space and `<0x0A>` for raw bytes. A person
wants the text, so both spellings are mapped back; anything else is shown as it is.
"""

from __future__ import annotations

import re
from functools import cache

_SENTENCEPIECE_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_SPECIAL = re.compile(r"^<\|?[^<>]*\|?>$")  # <|im_start|>, <s>, </s>…


@cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's reversible byte ↔ printable-character table, reversed."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def _is_byte_level(token_strs: list[str]) -> bool:
    decoder = _byte_decoder()
    return all(_SPECIAL.match(s) or all(ch in decoder for ch in s) for s in token_strs)


def token_texts(token_strs: list[str]) -> list[str]:
    """The text of each token, in order (an incomplete UTF-8 piece shows as �)."""
    if _is_byte_level(token_strs):
        decoder = _byte_decoder()
        return [
            s if _SPECIAL.match(s) else bytes(decoder[ch] for ch in s).decode("utf-8", "replace")
            for s in token_strs
        ]
    texts = []
    for s in token_strs:
        match = _SENTENCEPIECE_BYTE.match(s)
        if match:
            texts.append(bytes([int(match.group(1), 16)]).decode("utf-8", "replace"))
        else:
            texts.append(s.replace("▁", " "))
    return texts


def visible(text: str) -> str:
    """Whitespace made visible, so a token that is only a space or a newline can be seen."""
    return text.replace("\n", "↵").replace("\t", "⇥").replace("\r", "␍") or "∅"
