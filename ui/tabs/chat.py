"""The Chat tab: streamed answers from the gateway, with model, system prompt and sampling.

Built on `gr.ChatInterface`, which already gives stop (it cancels the running generator),
retry (regenerate), undo, edit and clear. Stopping works because the answer is an async
generator: Gradio cancels its task, and leaving `GatewayClient.stream_chat`'s `async with`
closes the HTTP stream, so the gateway and the engine stop generating too.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ui.client import ChatRequest
from ui.context import UIContext
from ui.conversation import export_json, export_markdown, parse_stop, to_openai_messages
from ui.errors import GatewayError
from ui.schemas import Usage
from ui.session import Session

DEFAULT_MAX_TOKENS = 512
DEFAULT_TEMPERATURE = 0.7

ChatReply = tuple[Any, str]
ANSWERING = "_Answering… (Stop ends it)_"
STOPPED = "**Stopped.** The answer so far is kept; the model stopped writing."


def write_export(folder: Path, name: str, text: str, *, keep_s: float = 3600.0) -> Path:
    """Write one export into its own sub-folder (so names never clash) and drop exports older
    than `keep_s`; Gradio copies the file into its cache to serve it, so old ones are unused."""
    now = time.time()
    for old in folder.glob("*/*"):
        if now - old.stat().st_mtime > keep_s:
            old.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                old.parent.rmdir()
    target = Path(tempfile.mkdtemp(dir=folder)) / name
    target.write_text(text, encoding="utf-8")
    return target


def note(text: str, title: str = "⚠️ Not answered") -> gr.ChatMessage:
    """A message the UI adds (an error, a refusal); it is shown but never sent to the model."""
    return gr.ChatMessage(role="assistant", content=text, metadata={"title": title})


def _reply(partial: str, problem: str) -> ChatReply:
    """The answer so far (if any) followed by a note, so nothing already received is lost."""
    if partial:
        return [gr.ChatMessage(role="assistant", content=partial), note(problem)], f"⚠️ {problem}"
    return note(problem), f"⚠️ {problem}"


def _finished(usage: Usage | None, finish_reason: str | None) -> str:
    parts = []
    if usage is not None:
        parts.append(f"{usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} answer tokens")
    if finish_reason == "length":
        parts.append("stopped at **Max tokens** (raise it for longer answers)")
    elif finish_reason:
        parts.append(f"finished ({finish_reason})")
    return "✓ " + " · ".join(parts) if parts else "✓ done"


@dataclass
class ChatTab:
    model: gr.Dropdown
    system_prompt: gr.Textbox
    temperature: gr.Slider
    max_tokens: gr.Slider
    chatbot: gr.Chatbot
    chatbot_state: gr.State
    status: gr.Markdown

    def session_outputs(self) -> list[gr.blocks.Block]:
        return [self.model, self.max_tokens, self.chatbot, self.chatbot_state, self.status]

    def session_updates(self, session: Session | None) -> list[Any]:
        """On sign-in: the key's models; on sign-out: an empty chat, so nothing is left behind."""
        if session is None:
            return [gr.Dropdown(choices=[], value=None), gr.Slider(), [], [], ""]
        first = session.models[0] if session.models else None
        status = f"⚠️ {session.models_error}" if session.models_error else ""
        return [
            gr.Dropdown(choices=session.model_ids, value=first.id if first else None),
            _max_tokens_slider(first.max_model_len if first else None),
            [],
            [],
            status,
        ]


def _max_tokens_slider(max_context: int | None) -> Any:
    top = max_context or 4096
    return gr.Slider(maximum=top, value=min(DEFAULT_MAX_TOKENS, top))


def build_chat(ctx: UIContext, session_state: gr.State) -> ChatTab:
    async def respond(
        message: str,
        history: list[dict[str, Any]],
        session: Session | None,
        model: str | None,
        system_prompt: str,
        temperature: float,
        top_p: float,
        max_tokens: float,
        stop: str,
        seed: float | None,
        request: gr.Request,
    ) -> AsyncIterator[ChatReply]:
        if session is None:
            yield _reply("", "Sign in with your API key first.")
            return
        if not model:
            yield _reply(
                "",
                "No model is available to your key yet. If the engine was starting, sign out "
                "and sign in again to load the models.",
            )
            return
        verdict = ctx.limiter.hit("chat", request)
        if not verdict.allowed:
            yield _reply("", verdict.plain("chat"))
            return
        messages = to_openai_messages(
            [*history, {"role": "user", "content": message}], system_prompt
        )
        chat_request = ChatRequest(
            model=model,
            messages=messages,
            temperature=float(temperature),
            top_p=float(top_p),
            max_tokens=int(max_tokens),
            stop=parse_stop(stop),
            seed=int(seed) if seed else None,  # 0 shows as the empty default
        )
        log = ctx.log.bind(key_id=session.me.id, model=model)
        answer = ""
        finish: str | None = None
        usage: Usage | None = None
        try:
            async for event in ctx.client.stream_chat(session.token, chat_request):
                finish = event.finish_reason or finish
                usage = event.usage or usage
                if event.text:
                    answer += event.text
                    yield answer, ANSWERING
        except GatewayError as exc:
            log.info("chat_failed", status=exc.status, request_id=exc.request_id)
            yield _reply(answer, exc.plain())
            return
        except asyncio.CancelledError:
            log.info("chat_stopped", chars=len(answer))
            raise
        if not answer:
            yield _reply("", "The model returned an empty answer. Try again or rephrase.")
            return
        yield answer, _finished(usage, finish)

    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            model = gr.Dropdown(label="Model", choices=[], interactive=True, elem_id="tg-model")
            system_prompt = gr.Textbox(
                label="System prompt",
                lines=3,
                placeholder="e.g. You are a concise assistant for the data team.",
                elem_id="tg-system-prompt",
            )
            with gr.Accordion("Sampling", open=False, elem_id="tg-sampling"):
                temperature = gr.Slider(
                    0.0,
                    2.0,
                    value=DEFAULT_TEMPERATURE,
                    step=0.05,
                    label="Temperature",
                    elem_id="tg-temperature",
                )
                top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="Top p")
                max_tokens = gr.Slider(
                    1,
                    4096,
                    value=DEFAULT_MAX_TOKENS,
                    step=1,
                    label="Max tokens",
                    elem_id="tg-max-tokens",
                )
                stop = gr.Textbox(
                    label="Stop sequences", lines=2, placeholder="one per line (\\n = newline)"
                )
                seed = gr.Number(label="Seed", precision=0, info="0 = random each time")
            with gr.Row():
                export_md = gr.Button("Export Markdown", size="sm")
                export_js = gr.Button("Export JSON", size="sm")
            export_file = gr.File(label="Conversation", visible=False, interactive=False)
        with gr.Column(scale=3):
            status = gr.Markdown(elem_id="tg-chat-status")
            chatbot = gr.Chatbot(
                label="Chat",
                show_label=False,
                height=520,
                buttons=["copy", "copy_all"],
                placeholder="Ask the model anything. Answers stream in as they are written.",
                elem_id="tg-chatbot",
            )
            chat = gr.ChatInterface(
                fn=respond,
                chatbot=chatbot,
                textbox=gr.Textbox(
                    placeholder="Message the model… (Enter sends, Shift+Enter for a new line)",
                    elem_id="tg-message",
                    lines=1,
                    max_lines=8,
                    submit_btn=True,
                    stop_btn=True,
                ),
                additional_inputs=[
                    session_state,
                    model,
                    system_prompt,
                    temperature,
                    top_p,
                    max_tokens,
                    stop,
                    seed,
                ],
                additional_outputs=[status],
                editable=True,
                autofocus=False,
                fill_height=False,
                api_name="chat",
                save_history=False,
            )

    async def on_model(session: Session | None, model_id: str | None) -> Any:
        card = session.model(model_id) if session else None
        return _max_tokens_slider(card.max_model_len if card else None)

    # Stop cancels `respond` (and with it the upstream request), so it never writes its own
    # final status: say here that the answer was stopped on purpose rather than left hanging.
    chat.textbox.stop(lambda: STOPPED, None, [status], queue=False, api_visibility="private")
    model.change(on_model, [session_state, model], [max_tokens], api_visibility="private")

    def exporter(kind: str) -> Any:
        def export(
            history: list[dict[str, Any]],
            model_id: str | None,
            system: str,
            temp: float,
            p: float,
            max_tok: float,
            stops: str,
            seed_value: float | None,
        ) -> Any:
            sampling = {
                "temperature": temp,
                "top_p": p,
                "max_tokens": int(max_tok),
                "stop": parse_stop(stops),
                "seed": int(seed_value) if seed_value else None,
            }
            render = export_markdown if kind == "md" else export_json
            text = render(history, model=model_id, system_prompt=system, sampling=sampling)
            path = write_export(ctx.export_dir, f"conversation.{kind}", text)
            return gr.File(value=str(path), visible=True)

        return export

    export_inputs = [chatbot, model, system_prompt, temperature, top_p, max_tokens, stop, seed]
    export_md.click(exporter("md"), export_inputs, [export_file], api_visibility="private")
    export_js.click(exporter("json"), export_inputs, [export_file], api_visibility="private")

    return ChatTab(
        model=model,
        system_prompt=system_prompt,
        temperature=temperature,
        max_tokens=max_tokens,
        chatbot=chatbot,
        chatbot_state=chat.chatbot_state,
        status=status,
    )
