"""The Inspect tab: what the model is and does — its card, the engine's live state, how text
becomes tokens, the exact prompt the chat template builds, and how sure the model was of each
token of an answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ui.client import ChatRequest
from ui.context import UIContext
from ui.conversation import to_openai_messages
from ui.errors import GatewayError
from ui.session import Session
from ui.views import (
    LOGPROB_TABLE_HEADERS,
    TOKEN_TABLE_HEADERS,
    engine_markdown,
    engine_summary,
    logprob_html,
    logprob_rows,
    model_card_markdown,
    token_chips_html,
    token_count_markdown,
    token_rows,
)

SIGN_IN_FIRST = "Sign in with your API key first."
TOP_LOGPROBS = 5
MAX_DETOKENIZE = 256  # per-token fallback calls, when /tokenize gives no token strings


def _problem(text: str) -> str:
    return f"⚠️ {text}"


@dataclass
class InspectTab:
    tab: gr.Tab
    model: gr.Dropdown
    model_card: gr.Markdown
    live: gr.Checkbox
    timer: gr.Timer

    def session_outputs(self) -> list[gr.blocks.Block]:
        return [self.model, self.model_card, self.live, self.timer]

    def session_updates(self, session: Session | None) -> list[Any]:
        if session is None:
            return [gr.Dropdown(choices=[], value=None), "", False, gr.Timer(active=False)]
        first = session.models[0] if session.models else None
        return [
            gr.Dropdown(choices=session.model_ids, value=first.id if first else None),
            model_card_markdown(first),
            gr.Checkbox(),
            gr.Timer(),
        ]


def build_inspect(
    ctx: UIContext,
    session_state: gr.State,
    chatbot: gr.Chatbot,
    system_prompt: gr.Textbox,
    temperature: gr.Slider,
) -> InspectTab:
    client = ctx.client

    async def show_card(session: Session | None, model_id: str | None) -> str:
        return model_card_markdown(session.model(model_id) if session else None)

    async def refresh_engine(session: Session | None) -> tuple[str, str]:
        if session is None:
            return SIGN_IN_FIRST, ""
        try:
            state = await client.engine(session.token)
        except GatewayError as exc:
            return _problem(exc.plain()), ""
        return engine_summary(state), engine_markdown(state)

    async def tokenize(
        session: Session | None, model_id: str | None, text: str
    ) -> tuple[str, str, Any]:
        if session is None or not model_id:
            return SIGN_IN_FIRST if session is None else "Pick a model first.", "", []
        try:
            result = await client.tokenize(session.token, model_id, text=text or "")
            token_strs, texts = result.token_strs, None
            if token_strs is None or len(token_strs) != len(result.tokens):
                # An engine without token strings: ask for each token's text instead.
                texts = await asyncio.gather(
                    *(
                        client.detokenize(session.token, model_id, [t])
                        for t in result.tokens[:MAX_DETOKENIZE]
                    )
                )
                texts += ["?"] * (len(result.tokens) - len(texts))
                token_strs = texts
        except GatewayError as exc:
            return _problem(exc.plain()), "", []
        card = session.model(model_id)
        max_context = result.max_model_len or (card.max_model_len if card else None)
        return (
            token_count_markdown(result.count, max_context),
            token_chips_html(result.tokens, token_strs, texts),
            token_rows(result.tokens, token_strs, texts),
        )

    def next_turn(history: list[dict[str, Any]], system: str, message: str) -> list[dict[str, str]]:
        turns = list(history)
        if message.strip():
            turns.append({"role": "user", "content": message})
        return to_openai_messages(turns, system)

    async def render_prompt(
        session: Session | None,
        model_id: str | None,
        history: list[dict[str, Any]],
        system: str,
        message: str,
    ) -> tuple[str, str]:
        if session is None or not model_id:
            return SIGN_IN_FIRST if session is None else "Pick a model first.", ""
        messages = next_turn(history, system, message)
        if not any(m["role"] == "user" for m in messages):
            return "Write a message (or chat first): the template needs a user turn.", ""
        try:
            prompt = await client.render_prompt(session.token, model_id, messages)
        except GatewayError as exc:
            return _problem(exc.plain()), ""
        card = session.model(model_id)
        info = token_count_markdown(len(prompt.token_ids), card.max_model_len if card else None)
        return f"{info} · {len(messages)} message(s) through the chat template", prompt.text

    async def probabilities(
        session: Session | None,
        model_id: str | None,
        history: list[dict[str, Any]],
        system: str,
        message: str,
        temp: float,
        max_tokens: float,
        request: gr.Request,
    ) -> tuple[str, str, Any]:
        if session is None or not model_id:
            return SIGN_IN_FIRST if session is None else "Pick a model first.", "", []
        messages = next_turn(history, system, message)
        if not any(m["role"] == "user" for m in messages):
            return "Write a message (or chat first) for the model to answer.", "", []
        verdict = ctx.limiter.hit("chat", request)
        if not verdict.allowed:
            return _problem(verdict.plain("chat")), "", []
        try:
            answer = await client.complete(
                session.token,
                ChatRequest(
                    model=model_id,
                    messages=messages,
                    temperature=float(temp),
                    max_tokens=int(max_tokens),
                    logprobs=True,
                    top_logprobs=TOP_LOGPROBS,
                ),
            )
        except GatewayError as exc:
            return _problem(exc.plain()), "", []
        if not answer.logprobs:
            return "The gateway returned no log-probabilities for this answer.", "", []
        mean = sum(t.logprob for t in answer.logprobs) / len(answer.logprobs)
        info = (
            f"{len(answer.logprobs)} tokens · mean logprob {mean:.3f} · "
            f"finished ({answer.finish_reason or 'unknown'}). Hover a token for its alternatives."
        )
        return info, logprob_html(answer.logprobs), logprob_rows(answer.logprobs)

    with gr.Tab("Inspect", id="inspect", elem_id="tg-tab-inspect") as tab:
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                gr.Markdown("### Model")
                model = gr.Dropdown(label="Model", choices=[], interactive=True)
                model_card = gr.Markdown(elem_id="tg-model-card")
                gr.Markdown("### Engine, live")
                with gr.Row():
                    refresh = gr.Button("Refresh", size="sm")
                    live = gr.Checkbox(
                        label=f"Update every {ctx.settings.engine_refresh_s:g} s", value=False
                    )
                engine_info = gr.Markdown()
                engine_table = gr.Markdown(elem_id="tg-engine")
                timer = gr.Timer(ctx.settings.engine_refresh_s, active=False)
            with gr.Column(scale=2, min_width=420):
                gr.Markdown("### Tokenizer")
                tok_text = gr.Textbox(
                    label="Text",
                    lines=3,
                    placeholder="Type text to see its tokens",
                    elem_id="tg-tok-text",
                )
                tok_button = gr.Button("Tokenize", variant="primary", elem_id="tg-tokenize")
                tok_count = gr.Markdown(elem_id="tg-token-count")
                tok_chips = gr.HTML(elem_id="tg-token-chips")
                with gr.Accordion("Token table", open=False):
                    tok_table = gr.Dataframe(headers=TOKEN_TABLE_HEADERS, interactive=False)
        gr.Markdown(
            "### The next turn\nThe chat's system prompt and conversation so far, plus this "
            "message: see the exact prompt the chat template builds, or let the model answer "
            "with the probability of every token."
        )
        next_message = gr.Textbox(label="Next user message", lines=2, elem_id="tg-next-message")
        with gr.Row():
            render_button = gr.Button("Show prompt", elem_id="tg-render")
            lp_button = gr.Button("Answer with probabilities", elem_id="tg-logprobs")
            lp_max_tokens = gr.Slider(
                1, 512, value=64, step=1, label="Max tokens", elem_id="tg-lp-max-tokens"
            )
        prompt_info = gr.Markdown(elem_id="tg-prompt-info")
        prompt_text = gr.Code(
            label="Prompt after the chat template",
            language=None,
            lines=6,
            interactive=False,
            elem_id="tg-prompt",
        )
        lp_info = gr.Markdown(elem_id="tg-logprob-info")
        lp_view = gr.HTML(elem_id="tg-logprob-view")
        with gr.Accordion("Top alternatives per token", open=False):
            lp_table = gr.Dataframe(headers=LOGPROB_TABLE_HEADERS, interactive=False, wrap=True)

    private: dict[str, Any] = {"api_visibility": "private"}
    model.change(show_card, [session_state, model], [model_card], **private)
    refresh.click(refresh_engine, [session_state], [engine_info, engine_table], **private)
    tab.select(refresh_engine, [session_state], [engine_info, engine_table], **private)
    timer.tick(refresh_engine, [session_state], [engine_info, engine_table], **private)
    live.change(lambda on: gr.Timer(active=bool(on)), [live], [timer], **private)
    tok_inputs = [session_state, model, tok_text]
    tok_outputs = [tok_count, tok_chips, tok_table]
    tok_button.click(tokenize, tok_inputs, tok_outputs, api_name="tokenize")
    tok_text.submit(tokenize, tok_inputs, tok_outputs, **private)
    turn = [session_state, model, chatbot, system_prompt, next_message]
    render_button.click(render_prompt, turn, [prompt_info, prompt_text], api_name="render_prompt")
    lp_button.click(
        probabilities,
        [*turn, temperature, lp_max_tokens],
        [lp_info, lp_view, lp_table],
        api_name="probabilities",
    )
    return InspectTab(tab=tab, model=model, model_card=model_card, live=live, timer=timer)
