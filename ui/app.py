"""The UI's composition root: `build_ui` lays out the page and wires sign-in across the tabs;
`create_app` serves it from a FastAPI app with security headers and a sized Gradio queue."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
from fastapi import FastAPI

from shared.logging import get_logger
from shared.secret_files import UI_TOKEN
from shared.settings import Settings
from ui.client import GatewayClient
from ui.context import UIContext
from ui.limits import UIRateLimiter
from ui.security import SecurityHeadersMiddleware
from ui.session import Session, SignInError, sign_in
from ui.tabs.admin import build_admin
from ui.tabs.chat import build_chat
from ui.tabs.inspect import build_inspect
from ui.tabs.usage import build_usage

CSS_PATH = Path(__file__).with_name("style.css")
TITLE = "Tollgate"


def build_ui(ctx: UIContext) -> gr.Blocks:
    """The whole page. Until a key is signed in only the sign-in form is shown; the key lives in
    this browser session's `gr.State` (server memory, gone when the tab closes)."""
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as blocks:
        session_state = gr.State(None)
        with gr.Row(elem_id="tg-header", equal_height=True):
            gr.Markdown(f"## {TITLE}", elem_id="tg-title", container=False)
            who = gr.Markdown(elem_id="tg-who", container=False)
            sign_out_button = gr.Button(
                "Sign out", visible=False, size="sm", scale=0, min_width=110, elem_id="tg-sign-out"
            )
        with gr.Column(visible=True, elem_id="tg-sign-in") as sign_in_panel:
            gr.Markdown(
                "Sign in with the API key your Tollgate admin gave you. It stays in this browser "
                "tab only: close the tab or sign out to forget it."
            )
            key_box = gr.Textbox(
                label="API key",
                type="password",
                placeholder="tg-…",
                elem_id="tg-key",
                max_length=512,
            )
            sign_in_button = gr.Button("Sign in", variant="primary", elem_id="tg-sign-in-button")
            sign_in_message = gr.Markdown(elem_id="tg-sign-in-message")
        with gr.Column(visible=False, elem_id="tg-main") as main_panel, gr.Tabs(elem_id="tg-tabs"):
            with gr.Tab("Chat", id="chat", elem_id="tg-tab-chat"):
                chat = build_chat(ctx, session_state)
            inspect = build_inspect(
                ctx, session_state, chat.chatbot, chat.system_prompt, chat.temperature
            )
            build_usage(ctx, session_state)
            admin = build_admin(ctx)

        tab_outputs = chat.session_outputs() + inspect.session_outputs() + admin.session_outputs()
        outputs = [
            session_state,
            key_box,
            sign_in_message,
            sign_in_panel,
            main_panel,
            who,
            sign_out_button,
            *tab_outputs,
        ]

        def page(session: Session | None, message: str = "") -> list[Any]:
            signed_in = session is not None
            return [
                session,
                "",  # the key box is emptied either way: the key is never sent back
                message,
                gr.Column(visible=not signed_in),
                gr.Column(visible=signed_in),
                session.describe() if session else "",
                gr.Button(visible=signed_in),
                *chat.session_updates(session),
                *inspect.session_updates(session),
                *admin.session_updates(session),
            ]

        async def on_sign_in(raw_key: str, request: gr.Request) -> list[Any]:
            verdict = ctx.limiter.hit("sign_in", request)
            if not verdict.allowed:
                ctx.log.info("sign_in_limited")
                return _keep(outputs, message=f"⚠️ {verdict.plain('sign_in')}", key_index=1)
            try:
                session = await sign_in(ctx.client, raw_key)
            except SignInError as exc:
                ctx.log.info("sign_in_refused")
                return _keep(outputs, message=f"⚠️ {exc}", key_index=1)
            ctx.log.info("signed_in", key_id=session.me.id, models=len(session.models))
            return page(session)

        def on_sign_out(session: Session | None) -> list[Any]:
            if session is not None:
                ctx.log.info("signed_out", key_id=session.me.id)
            return page(None, "Signed out.")

        sign_in_button.click(on_sign_in, [key_box], outputs, api_name="sign_in")
        key_box.submit(on_sign_in, [key_box], outputs, api_visibility="private")
        sign_out_button.click(on_sign_out, [session_state], outputs, api_name="sign_out")
    return blocks


def _keep(outputs: list[Any], *, message: str, key_index: int) -> list[Any]:
    """A failed sign-in changes only the message (and empties the key box)."""
    updates: list[Any] = [gr.skip() for _ in outputs]
    updates[key_index] = ""
    updates[2] = message
    return updates


def _ui_token(settings: Settings) -> str | None:
    """The secret shared with the gateway: TOLLGATE_UI_TOKEN, else DATA_DIR/ui-token."""
    token = UI_TOKEN.resolve(settings)
    return token.get_secret_value() if token is not None else None


def create_app(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The ASGI app `tollgate ui` serves. `transport` lets tests put a fake gateway behind it."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a private UI
    ui = settings.ui
    ui_token = _ui_token(settings)
    client = GatewayClient(
        ui.gateway_url,
        timeout_s=ui.request_timeout_s,
        max_connections=ui.concurrency_limit * 2,
        transport=transport,
        ui_token=ui_token,
    )
    export_dir = Path(tempfile.mkdtemp(prefix="tollgate-ui-exports-"))
    ctx = UIContext(
        client=client,
        settings=ui,
        limiter=UIRateLimiter(ui.sign_in_rate_limit, ui.chat_rate_limit),
        log=get_logger("tollgate.ui").bind(gateway=client.base_url),
        export_dir=export_dir,
    )
    blocks = build_ui(ctx)
    # Gradio runs one event of a kind at a time unless told otherwise; chats must not queue
    # behind each other.
    blocks.queue(default_concurrency_limit=ui.concurrency_limit, max_size=ui.queue_size)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Whether chats can run interactive on any key (never the token itself).
        ctx.log.info(
            "ui_started", concurrency=ui.concurrency_limit, ui_token_configured=bool(ui_token)
        )
        try:
            yield
        finally:
            await client.aclose()
            shutil.rmtree(export_dir, ignore_errors=True)

    app = FastAPI(
        title="Tollgate UI", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        footer_links=[],
        show_error=False,
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        max_file_size="1mb",
        theme=gr.themes.Soft(primary_hue="indigo"),
        css_paths=[CSS_PATH],
    )
