"""Which limits apply: the key's own, else the default; the team's on top; per-model overrides
with counters of their own."""

from __future__ import annotations

from gateway.keys.principal import KeyLimits, KeyPrincipal
from gateway.limits.policy import LimitPolicy, Scope, TeamLimits
from tests.gateway.limits.support import StaticTeams, principal


def kinds(
    policy: LimitPolicy, who: KeyPrincipal, model: str | None
) -> dict[tuple[str, str | None, str], int]:
    """(kind, model scope, key/team) -> capacity of every limit that applies."""
    return {
        (limit.kind, limit.scope.model, limit.scope.level): limit.capacity
        for limit in policy.resolve(who, model)
    }


def test_an_unlimited_key_without_defaults_has_no_limits() -> None:
    assert LimitPolicy().resolve(principal("alice"), "m") == ()


def test_the_keys_own_limit_wins_over_the_default() -> None:
    policy = LimitPolicy(KeyLimits(rpm=60, tpm=1000))
    limits = policy.resolve(principal("alice", rpm=5), None)
    assert [(limit.kind, limit.capacity, limit.default) for limit in limits] == [
        ("rpm", 5, False),
        ("tpm", 1000, True),
    ]


def test_a_model_override_replaces_only_the_kinds_it_sets_and_only_for_its_model() -> None:
    alice = principal("alice", rpm=5, tpm=100, model_limits={"small": {"tpm": 9000}})
    policy = LimitPolicy()
    assert kinds(policy, alice, "small") == {
        ("rpm", None, "key"): 5,
        ("tpm", "small", "key"): 9000,
    }
    assert kinds(policy, alice, "big") == {("rpm", None, "key"): 5, ("tpm", None, "key"): 100}


def test_team_limits_add_to_the_keys() -> None:
    teams = StaticTeams(
        {"ml": TeamLimits(KeyLimits(rpm=50), {"small": KeyLimits(max_concurrency=2)})}
    )
    policy = LimitPolicy(teams=teams)
    alice = principal("alice", team="ml", rpm=5)
    assert kinds(policy, alice, "small") == {
        ("rpm", None, "key"): 5,
        ("rpm", None, "team"): 50,
        ("max_concurrency", "small", "team"): 2,
    }
    assert kinds(policy, principal("bob", team="other"), "small") == {}


def test_counters_of_different_scopes_never_share_a_storage_key() -> None:
    ids = {
        Scope("team", "a:m:b", "a:m:b").storage_id,
        Scope("team", "a", "a", model="b:m:x").storage_id,
        Scope("team", "a", "a", model="b").storage_id,
        Scope("key", "a", "a").storage_id,
        Scope("team", "a", "a").storage_id,
    }
    assert len(ids) == 5
