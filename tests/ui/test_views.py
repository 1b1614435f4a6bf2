"""Tokens, probabilities and limits as a person sees them (escaped, coloured, readable)."""

from __future__ import annotations

from shared.schemas.engine import EngineState
from shared.schemas.keys import MeInfo
from ui.schemas import ModelCard, TokenLogprob
from ui.tokens import token_texts, visible
from ui.views import (
    engine_markdown,
    engine_summary,
    limits_markdown,
    logprob_html,
    logprob_rows,
    model_card_markdown,
    probability_colour,
    token_chips_html,
    token_count_markdown,
    token_rows,
)

# The rest of GET /tollgate/me for a key with no team, models list or expiry.
NO_EXTRAS = {"team": None, "tier": "standard", "allowed_models": None, "expires_at": None}


def test_byte_level_token_strings_become_their_text() -> None:
    # SmolLM2's /tokenize spelling of "Hello world, é\n" and a special token.
    assert token_texts(["<|im_start|>", "Hello", "Ġworld", ",", "ĠÃ©", "Ċ"]) == [
        "<|im_start|>",
        "Hello",
        " world",
        ",",
        " é",
        "\n",
    ]


def test_sentencepiece_token_strings_become_their_text() -> None:
    assert token_texts(["▁Hello", "▁wor", "ld", "<0x0A>"]) == [" Hello", " wor", "ld", "\n"]


def test_whitespace_only_tokens_are_visible() -> None:
    assert visible("\n") == "↵" and visible("") == "∅" and visible(" a") == " a"


def test_token_chips_escape_html_and_name_each_id() -> None:
    html = token_chips_html([7, 8], ["<b>", "Ġ&"])
    assert "<b>" not in html.replace('<span class="tg-token"', "")
    assert "&lt;b&gt;" in html and "&amp;" in html
    assert 'title="#0 · id 7' in html and 'title="#1 · id 8' in html


def test_token_table_rows_and_count_against_the_context() -> None:
    assert token_rows([5, 6], ["Hi", "Ċ"]) == [[0, 5, "Hi", "Hi"], [1, 6, "Ċ", "↵"]]
    assert (
        token_count_markdown(512, 2048) == "**512 tokens** of 2,048 in the context window (25.0%)"
    )
    assert "longer than the context window" in token_count_markdown(3000, 2048)
    assert token_count_markdown(3, None) == "**3 tokens**"


def test_probability_colours_run_from_red_to_green() -> None:
    assert probability_colour(0.0).startswith("hsla(0,")
    assert probability_colour(1.0).startswith("hsla(120,")
    assert probability_colour(7.0) == probability_colour(1.0)


def test_logprob_view_colours_tokens_and_lists_alternatives_on_hover() -> None:
    tokens = [
        TokenLogprob.model_validate(
            {
                "token": "<Hi>",
                "logprob": -0.105,
                "top_logprobs": [
                    {"token": "<Hi>", "logprob": -0.105},
                    {"token": "Yo", "logprob": -2.3},
                ],
            }
        ),
        TokenLogprob(token="!", logprob=-9999.0),
    ]
    html = logprob_html(tokens)
    assert "&lt;Hi&gt;" in html and "<Hi>" not in html
    assert (
        "p = 90.0%" in html
        and "alternatives: &#x27;&lt;Hi&gt;&#x27; 90.0% · &#x27;Yo&#x27; 10.0%" in html
    )
    rows = logprob_rows(tokens)
    assert rows[0][:3] == [0, "<Hi>", "90.03%"] and rows[1][2] == "0.00%"
    assert "No tokens" in logprob_html([])


def test_model_card_and_engine_state_read_well() -> None:
    card = model_card_markdown(ModelCard(id="m", root="/models/m", max_model_len=2048))
    assert "`m`" in card and "2,048 tokens" in card and "/models/m" in card
    assert model_card_markdown(None) == "_No model selected._"
    state = EngineState.model_validate(
        {
            "upstreams": [
                {
                    "name": "e1",
                    "healthy": True,
                    "models": ["m"],
                    "kv_cache_usage": 0.5,
                    "requests_running": 2,
                },
                {"name": "e2", "healthy": False, "models": ["m"]},
            ],
            "sampled_at": "2026-11-25T12:00:00Z",
        }
    )
    table = engine_markdown(state)
    assert "| Engine | e1 | e2 |" in table
    assert "| Healthy | yes | **NO** |" in table
    assert "| Requests running | 2 | — |" in table and "| KV cache in use | 50.0% | — |" in table
    assert engine_summary(state) == "**1 of 2** engine(s) healthy · sampled 12:00:00 UTC"


def test_limits_show_what_remains_of_token_budgets_from_usage() -> None:
    me = MeInfo.model_validate(
        {
            "id": "k",
            "name": "alice",
            "prefix": "tg-ab",
            "limits": {"rpm": 60, "daily_tokens": 1000, "monthly_tokens": 5000},
            **NO_EXTRAS,
        }
    )
    text = limits_markdown(me, used_today=400, used_month=6000)
    assert "| Requests per minute | 60 | — |" in text
    assert "| Tokens per minute | unlimited | unlimited |" in text
    assert "| Tokens today (UTC) | 1,000 | 600 of 1,000 |" in text
    assert "| Tokens this month (UTC) | 5,000 | 0 of 5,000 |" in text
    assert "unknown (usage not available)" in limits_markdown(me, None, None)


def test_limits_prefer_what_the_gateway_says_is_left() -> None:
    me = MeInfo.model_validate(
        {
            "id": "k",
            "name": "alice",
            "prefix": "tg-ab",
            "limits": {"rpm": 60},
            **NO_EXTRAS,
            "remaining": {
                "requests": {"limit": 60, "remaining": 59, "reset_seconds": 1.2, "scope": "key"},
                "daily_tokens": {
                    "limit": 900,
                    "remaining": 900,
                    "reset_seconds": 4000,
                    "scope": "team",
                },
            },
        }
    )
    text = limits_markdown(me, used_today=100, used_month=None)
    assert "| Requests per minute | 60 | 59 of 60, full again in 2 s |" in text
    # A team's budget shows even when the key has none of its own.
    assert "| Tokens today (UTC) | unlimited | 900 of 900 (team) |" in text
