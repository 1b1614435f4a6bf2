"""The key format: `tg-` + 43 URL-safe characters (32 random bytes), stored only as SHA-256.

A key is high-entropy random data, so one unsalted SHA-256 is the right hash: no password
stretching is needed, and a lookup by hash stays a single indexed equality.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

KEY_SCHEME = "tg-"
KEY_RANDOM_BYTES = 32
PREFIX_CHARS = 8  # random characters kept for display, after "tg-"
# Accept longer keys too, so a later format change never locks out keys already issued.
_KEY_SHAPE = re.compile(r"tg-[A-Za-z0-9_-]{32,256}")
_ID_SHAPE = re.compile(r"key_[0-9a-f]{24}")


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # shown once to whoever created it, then forgotten
    key_hash: str
    prefix: str
    id: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[: len(KEY_SCHEME) + PREFIX_CHARS]


def looks_like_key(value: str) -> bool:
    """Whether `value` has the shape of an API key (says nothing about its validity)."""
    return _KEY_SHAPE.fullmatch(value) is not None


def looks_like_key_id(value: str) -> bool:
    return _ID_SHAPE.fullmatch(value) is not None


def new_key_id() -> str:
    return f"key_{secrets.token_hex(12)}"


def generate_key() -> NewKey:
    key = KEY_SCHEME + secrets.token_urlsafe(KEY_RANDOM_BYTES)
    return NewKey(key=key, key_hash=hash_key(key), prefix=display_prefix(key), id=new_key_id())
