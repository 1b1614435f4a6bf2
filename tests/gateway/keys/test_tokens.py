from __future__ import annotations

import hashlib

from gateway.keys.tokens import (
    display_prefix,
    generate_key,
    hash_key,
    looks_like_key,
    looks_like_key_id,
)


def test_keys_are_tg_plus_32_random_bytes() -> None:
    new = generate_key()
    assert new.key.startswith("tg-")
    assert len(new.key) == 3 + 43  # base64url of 32 bytes, no padding
    assert looks_like_key(new.key)


def test_only_a_sha256_and_a_short_prefix_describe_a_key() -> None:
    new = generate_key()
    assert new.key_hash == hashlib.sha256(new.key.encode()).hexdigest() == hash_key(new.key)
    assert new.prefix == new.key[:11] == display_prefix(new.key)
    assert new.key not in (new.key_hash, new.prefix, new.id)


def test_every_key_and_id_is_different() -> None:
    made = [generate_key() for _ in range(1000)]
    assert len({m.key for m in made}) == len({m.id for m in made}) == 1000
    assert all(looks_like_key_id(m.id) for m in made)


def test_only_tollgate_shaped_strings_look_like_keys() -> None:
    assert not looks_like_key("sk-" + "a" * 43)
    assert not looks_like_key("tg-short")
    assert not looks_like_key("tg-" + "a" * 42 + "!")
    assert not looks_like_key("tg-" + "a" * 300)
    assert looks_like_key("tg-" + "a" * 64)  # longer future keys keep working
