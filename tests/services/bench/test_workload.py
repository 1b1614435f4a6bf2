"""How a benchmark is described: lengths, steps, bounds and the bodies it sends."""

from __future__ import annotations

import json
import random

import pytest

from services.bench.workload import BenchSpec, BodyFactory, Distribution, SpecError, parse_steps


def spec(**overrides: object) -> BenchSpec:
    values: dict[str, object] = {
        "base_url": "http://127.0.0.1:1",
        "model": "m",
        "steps": parse_steps("1", None),
        "requests": 10,
    }
    values.update(overrides)
    return BenchSpec(**values)  # type: ignore[arg-type]


def test_lengths_can_be_fixed_uniform_or_normal() -> None:
    rng = random.Random(1)
    assert {Distribution.parse("64").sample(rng) for _ in range(20)} == {64}
    assert Distribution.parse("fixed:8").sample(rng) == 8
    uniform = [Distribution.parse("uniform:10:20").sample(rng) for _ in range(500)]
    assert min(uniform) == 10 and max(uniform) == 20
    normal = [Distribution.parse("normal:100:10").sample(rng) for _ in range(2000)]
    assert 95 < sum(normal) / len(normal) < 105
    assert all(n >= 1 for n in (Distribution.parse("normal:2:50").sample(rng) for _ in range(500)))


@pytest.mark.parametrize(
    "text", ["", "abc", "0", "uniform:5", "uniform:9:3", "normal:5:-1", "zipf:1:2"]
)
def test_unreadable_lengths_say_how_to_write_them(text: str) -> None:
    with pytest.raises(SpecError, match="uniform:MIN:MAX"):
        Distribution.parse(text)


def test_steps_are_a_concurrency_sweep_or_rates() -> None:
    assert [s.concurrency for s in parse_steps("1, 4,16", None)] == [1, 4, 16]
    rates = parse_steps(None, "0.5,2", max_concurrency=8)
    assert [(s.rate, s.max_concurrency) for s in rates] == [(0.5, 8), (2.0, 8)]
    assert [s.concurrency for s in parse_steps(None, None)] == [1]
    with pytest.raises(SpecError):
        parse_steps("1", "2")
    with pytest.raises(SpecError):
        parse_steps("one", None)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"requests": None, "duration_s": None}, "bound each step"),
        ({"requests": 0}, "at least 1"),
        ({"duration_s": -1.0}, "positive"),
        ({"steps": parse_steps("0", None)}, "concurrency"),
        ({"steps": parse_steps("2", None), "processes": 4}, "below --processes"),
    ],
)
def test_specs_that_make_no_sense_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        spec(**overrides)


def test_chat_bodies_stream_with_usage_and_ask_for_the_drawn_length() -> None:
    body = json.loads(
        BodyFactory(
            spec(prompt_tokens=Distribution.parse("12"), output_tokens=Distribution.parse("7"),
                 ignore_eos=True),
            stream_seed=0,
        ).next()
    )  # fmt: skip
    assert body["model"] == "m" and body["max_tokens"] == 7
    assert len(body["messages"][0]["content"].split()) == 12
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["ignore_eos"] is True


def test_completion_bodies_carry_a_prompt_and_no_stream_fields() -> None:
    body = json.loads(BodyFactory(spec(endpoint="completions", stream=False), 0).next())
    assert isinstance(body["prompt"], str) and "messages" not in body
    assert "stream" not in body and "ignore_eos" not in body


def test_prompts_differ_between_requests_but_repeat_with_the_seed() -> None:
    first = BodyFactory(spec(), 0)
    again = BodyFactory(spec(), 0)
    bodies = [first.next() for _ in range(3)]
    assert len(set(bodies)) == 3
    assert bodies == [again.next() for _ in range(3)]


def test_public_form_never_holds_the_key_or_header_values() -> None:
    public = spec(api_key="tg-secret", headers=(("x-team", "blue"),)).public_dict()
    assert public["api_key"] == "set"
    assert "tg-secret" not in json.dumps(public) and "blue" not in json.dumps(public)
    assert "tg-secret" not in repr(spec(api_key="tg-secret"))
