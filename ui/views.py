"""Pure functions that turn the gateway's data into HTML, Markdown and table rows.

Kept apart from the Gradio wiring so each view can be tested without a browser. Every
piece of text that came from the model or the gateway is HTML-escaped here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape

from shared.schemas.engine import EngineState
from shared.schemas.keys import KeyLimitsInfo, MeInfo
from shared.schemas.limits import LimitState
from ui.schemas import ModelCard, TokenLogprob
from ui.tokens import token_texts, visible

TOKEN_TABLE_HEADERS = ["#", "id", "token", "text"]
LOGPROB_TABLE_HEADERS = ["#", "token", "probability", "logprob", "top alternatives"]
# Alternating chip colours, so the boundary between two tokens is always visible.
_CHIP_COLOURS = ("hsla(210, 80%, 60%, 0.22)", "hsla(35, 90%, 60%, 0.28)")


def _cell(value: object) -> str:
    return "—" if value is None else str(value)


def model_card_markdown(card: ModelCard | None) -> str:
    if card is None:
        return "_No model selected._"
    created = (
        datetime.fromtimestamp(card.created, UTC).strftime("%Y-%m-%d %H:%M UTC")
        if card.created
        else None
    )
    context = f"{card.max_model_len:,} tokens" if card.max_model_len else None
    rows = [
        ("Model id", f"`{card.id}`"),
        ("Root", f"`{card.root}`" if card.root else None),
        ("Max context", context),
        ("Owned by", card.owned_by),
        ("Loaded", created),
    ]
    body = "\n".join(f"| {name} | {escape(_cell(value))} |" for name, value in rows)
    return f"| | |\n|---|---|\n{body}"


def engine_markdown(state: EngineState) -> str:
    """One row per measure and one column per engine: the Inspect tab's narrow column fits a
    tall table, where a row per engine would need scrolling sideways."""
    if not state.upstreams:
        return ""

    def number(value: float | None, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    measures: list[tuple[str, list[str]]] = [
        ("Healthy", ["yes" if up.healthy else "**NO**" for up in state.upstreams]),
        ("Models", [", ".join(up.models) or "—" for up in state.upstreams]),
        ("Requests running", [number(up.requests_running, ".0f") for up in state.upstreams]),
        ("Requests waiting", [number(up.requests_waiting, ".0f") for up in state.upstreams]),
        (
            "KV cache in use",
            [
                "—" if up.kv_cache_usage is None else f"{up.kv_cache_usage:.1%}"
                for up in state.upstreams
            ],
        ),
        ("Prompt tokens/s", [number(up.prompt_tokens_per_s, ".1f") for up in state.upstreams]),
        ("Answer tokens/s", [number(up.generation_tokens_per_s, ".1f") for up in state.upstreams]),
    ]
    header = "| Engine | " + " | ".join(escape(up.name) for up in state.upstreams) + " |"
    rule = "|---" * (len(state.upstreams) + 1) + "|"
    rows = [
        f"| {name} | " + " | ".join(escape(v) for v in values) + " |" for name, values in measures
    ]
    return "\n".join([header, rule, *rows])


def engine_summary(state: EngineState) -> str:
    if not state.upstreams:
        return "The gateway lists no engine."
    healthy = sum(up.healthy for up in state.upstreams)
    when = state.sampled_at.strftime("%H:%M:%S UTC") if state.sampled_at else "just now"
    return f"**{healthy} of {len(state.upstreams)}** engine(s) healthy · sampled {when}"


def token_rows(
    ids: list[int], token_strs: list[str], texts: list[str] | None = None
) -> list[list[object]]:
    texts = texts if texts is not None else token_texts(token_strs)
    return [[i, token_id, token_strs[i], visible(texts[i])] for i, token_id in enumerate(ids)]


def token_chips_html(ids: list[int], token_strs: list[str], texts: list[str] | None = None) -> str:
    """The text split into its tokens, each a chip whose tooltip names its id. `texts` are the
    tokens' texts when already known (else decoded from the vocabulary spellings)."""
    texts = texts if texts is not None else token_texts(token_strs)
    chips = []
    for i, (token_id, text) in enumerate(zip(ids, texts, strict=True)):
        colour = _CHIP_COLOURS[i % 2]
        chips.append(
            f'<span class="tg-token" style="background:{colour}" '
            f'title="#{i} · id {token_id} · {escape(token_strs[i], quote=True)}">'
            f"{escape(visible(text))}</span>"
        )
    return f'<div class="tg-tokens">{"".join(chips)}</div>'


def token_count_markdown(count: int, max_context: int | None) -> str:
    if not max_context:
        return f"**{count:,} tokens**"
    share = count / max_context
    warning = " — **longer than the context window**" if count > max_context else ""
    return f"**{count:,} tokens** of {max_context:,} in the context window ({share:.1%}){warning}"


def probability_colour(p: float) -> str:
    """Red for unlikely tokens through amber to green for near-certain ones."""
    hue = round(120 * min(1.0, max(0.0, p)))
    return f"hsla({hue}, 85%, 45%, 0.35)"


def _prob(logprob: float) -> float:
    return math.exp(logprob) if logprob > -1e9 else 0.0


def _alternatives(token: TokenLogprob) -> str:
    return " · ".join(
        f"{visible(alt.token)!r} {_prob(alt.logprob):.1%}" for alt in token.top_logprobs
    )


def logprob_html(tokens: list[TokenLogprob]) -> str:
    """The answer, each token coloured by its probability; hover shows the top alternatives."""
    if not tokens:
        return '<div class="tg-logprobs"><em>No tokens.</em></div>'
    spans = []
    for i, token in enumerate(tokens):
        p = _prob(token.logprob)
        tip = f"#{i} {visible(token.token)!r}: p = {p:.1%} (logprob {token.logprob:.3f})"
        if token.top_logprobs:
            tip += "\nalternatives: " + _alternatives(token)
        spans.append(
            f'<span class="tg-lp" style="background:{probability_colour(p)}" '
            f'title="{escape(tip, quote=True)}">{escape(token.token)}</span>'
        )
    legend = (
        '<div class="tg-legend">probability: '
        f'<span style="background:{probability_colour(0.0)}">0%</span>'
        f'<span style="background:{probability_colour(0.5)}">50%</span>'
        f'<span style="background:{probability_colour(1.0)}">100%</span></div>'
    )
    return f'<div class="tg-logprobs">{"".join(spans)}</div>{legend}'


def logprob_rows(tokens: list[TokenLogprob]) -> list[list[object]]:
    return [
        [i, visible(t.token), f"{_prob(t.logprob):.2%}", round(t.logprob, 4), _alternatives(t)]
        for i, t in enumerate(tokens)
    ]


def _left(state: LimitState | None) -> str | None:
    if state is None:
        return None
    reset = (
        f", full again in {_duration(state.reset_seconds)}" if state.remaining < state.limit else ""
    )
    whose = " (team)" if state.scope == "team" else ""
    return f"{state.remaining:,} of {state.limit:,}{whose}{reset}"


def _duration(seconds: float) -> str:
    seconds = max(0, math.ceil(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def limits_markdown(me: MeInfo, used_today: int | None, used_month: int | None) -> str:
    """My key, its limits, and what is left of each: from the gateway's `remaining` when it
    sends one, else (token budgets) from the usage ledger's totals."""

    def limit(value: int | None) -> str:
        return "unlimited" if value is None else f"{value:,}"

    def from_usage(budget: int | None, used: int | None) -> str:
        if budget is None:
            return "—"
        if used is None:
            return "unknown (usage not available)"
        return f"{max(0, budget - used):,} of {budget:,}"

    lim: KeyLimitsInfo = me.limits
    left = me.remaining
    models = ", ".join(f"`{m}`" for m in me.allowed_models) if me.allowed_models else "all"
    expires = me.expires_at.strftime("%Y-%m-%d %H:%M UTC") if me.expires_at else "never"
    about = [
        ("Key", f"{escape(me.name)} (`{escape(me.prefix)}…`)"),
        ("Team", escape(me.team or "—")),
        ("Tier", escape(me.tier)),
        ("Models", models),
        ("Expires", expires),
    ]
    limits = [
        ("Requests per minute", lim.rpm, left.requests if left else None, None),
        ("Tokens per minute", lim.tpm, left.tokens if left else None, None),
        ("Requests at once", lim.max_concurrency, left.concurrency if left else None, None),
        (
            "Tokens today (UTC)",
            lim.daily_tokens,
            left.daily_tokens if left else None,
            from_usage(lim.daily_tokens, used_today),
        ),
        (
            "Tokens this month (UTC)",
            lim.monthly_tokens,
            left.monthly_tokens if left else None,
            from_usage(lim.monthly_tokens, used_month),
        ),
    ]
    table = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in about)]
    table += ["", "| Limit | My key | Left now |", "|---|---|---|"]
    for name, value, state, fallback in limits:
        shown = _left(state) or fallback or ("—" if value is not None else "unlimited")
        table.append(f"| {name} | {limit(value)} | {shown} |")
    return "\n".join(table)
