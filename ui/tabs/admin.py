"""The Admin tab: unlocked with the gateway's admin token (held in this session only), it lists,
creates and revokes API keys through the pinned /admin/keys routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import gradio as gr
from pydantic import SecretStr

from shared.schemas.keys import KeyInfo, Tier
from shared.schemas.usage import UsageRow
from ui.context import UIContext
from ui.errors import GatewayError

USAGE_DAYS = 30  # the period of the per-key usage shown beside each key
KEY_TABLE_HEADERS = [
    "id",
    "name",
    "team",
    "prefix",
    "tier",
    "models",
    "rpm",
    "tpm",
    "concurrency",
    "daily tokens",
    "monthly tokens",
    "created",
    "last used",
    "expires",
    "status",
    f"requests ({USAGE_DAYS} d)",
    f"tokens ({USAGE_DAYS} d)",
]
TIERS = list(get_args(Tier))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _n(value: int | None) -> str:
    return "∞" if value is None else f"{value:,}"


def key_rows(keys: list[KeyInfo], usage: dict[str, UsageRow] | None) -> list[list[str]]:
    """One row per key; the usage columns read "—" when the gateway keeps no usage ledger."""

    def used(key_id: str) -> tuple[str, str]:
        if usage is None:
            return "—", "—"
        row = usage.get(key_id)
        return (f"{row.requests:,}", f"{row.total_tokens:,}") if row else ("0", "0")

    return [
        [
            k.id,
            k.name,
            k.team or "—",
            k.prefix,
            k.tier,
            ", ".join(k.allowed_models) if k.allowed_models else "all",
            _n(k.limits.rpm),
            _n(k.limits.tpm),
            _n(k.limits.max_concurrency),
            _n(k.limits.daily_tokens),
            _n(k.limits.monthly_tokens),
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.expires_at),
            f"revoked {_when(k.revoked_at)}" if k.revoked else "active",
            *used(k.id),
        ]
        for k in keys
    ]


def admin_problem(exc: GatewayError) -> str:
    if exc.status == 401:
        return "That admin token is not right."
    if exc.status == 503 and exc.type == "admin_disabled":
        return "The admin API is turned off on this gateway (no TOLLGATE_ADMIN_TOKEN is set)."
    return exc.plain()


def key_spec(
    name: str,
    team: str,
    tier: str,
    models: str,
    rpm: float | None,
    tpm: float | None,
    concurrency: float | None,
    daily: float | None,
    monthly: float | None,
    expires_days: float | None,
) -> dict[str, Any]:
    """The POST /admin/keys body; empty fields are left out (no limit, never expires)."""

    def count(value: float | None) -> int | None:
        return None if value is None or value <= 0 else int(value)

    model_list = [m.strip() for m in (models or "").split(",") if m.strip()]
    return {
        "name": name.strip(),
        "team": team.strip() or None,
        "tier": (tier or "").strip() or None,
        "models": model_list or None,
        "rpm": count(rpm),
        "tpm": count(tpm),
        "max_concurrency": count(concurrency),
        "daily_tokens": count(daily),
        "monthly_tokens": count(monthly),
        "expires_in_days": count(expires_days),
    }


@dataclass
class AdminTab:
    admin_state: gr.State
    locked: gr.Column
    unlocked: gr.Column

    def session_outputs(self) -> list[gr.blocks.Block]:
        return [self.admin_state, self.locked, self.unlocked]

    def session_updates(self, _session: object) -> list[Any]:
        # Signing in or out always locks the admin view again.
        return [None, gr.Column(visible=True), gr.Column(visible=False)]


def build_admin(ctx: UIContext) -> AdminTab:
    client = ctx.client

    async def listing(token: SecretStr) -> tuple[list[list[str]], Any]:
        keys = await client.list_keys(token.get_secret_value())
        since = datetime.now(UTC) - timedelta(days=USAGE_DAYS)
        usage: dict[str, UsageRow] | None
        try:
            usage = await client.usage_by_key(token.get_secret_value(), since=since)
        except GatewayError:
            usage = None  # no usage ledger on this gateway: the keys still list
        active = [k.id for k in keys if not k.revoked]
        return key_rows(keys, usage), gr.Dropdown(choices=active, value=None)

    async def unlock(raw: str, request: gr.Request) -> tuple[Any, ...]:
        stay = (
            None,
            gr.Column(visible=True),
            gr.Column(visible=False),
            gr.Dataframe(),
            gr.Dropdown(),
        )
        verdict = ctx.limiter.hit("sign_in", request)
        if not verdict.allowed:
            return (f"⚠️ {verdict.plain('sign_in')}", "", *stay)
        token = SecretStr((raw or "").strip())
        if not token.get_secret_value():
            return ("Enter the admin token.", "", *stay)
        try:
            rows, ids = await listing(token)
        except GatewayError as exc:
            ctx.log.info("admin_unlock_failed", status=exc.status)
            return (f"⚠️ {admin_problem(exc)}", "", *stay)
        ctx.log.info("admin_unlocked")
        return ("", "", token, gr.Column(visible=False), gr.Column(visible=True), rows, ids)

    def lock() -> tuple[Any, ...]:
        hidden_key = gr.Textbox(value="", visible=False)
        return (None, gr.Column(visible=True), gr.Column(visible=False), [], "", hidden_key)

    async def refresh(token: SecretStr | None) -> tuple[Any, Any, str]:
        if token is None:
            return gr.Dataframe(), gr.Dropdown(), "Unlock with the admin token first."
        try:
            rows, ids = await listing(token)
        except GatewayError as exc:
            return gr.Dataframe(), gr.Dropdown(), f"⚠️ {admin_problem(exc)}"
        return rows, ids, ""

    async def create(token: SecretStr | None, *fields: Any) -> tuple[Any, ...]:
        spec = key_spec(*fields)
        if token is None:
            return (
                "Unlock with the admin token first.",
                gr.Textbox(visible=False),
                gr.Dataframe(),
                gr.Dropdown(),
            )
        if not spec["name"]:
            return (
                "Give the key a name (a person or a service).",
                gr.Textbox(visible=False),
                gr.Dataframe(),
                gr.Dropdown(),
            )
        try:
            created = await client.create_key(token.get_secret_value(), spec)
            rows, ids = await listing(token)
        except GatewayError as exc:
            return (
                f"⚠️ {admin_problem(exc)}",
                gr.Textbox(visible=False),
                gr.Dataframe(),
                gr.Dropdown(),
            )
        ctx.log.info("admin_key_created", key_id=created.id)
        message = (
            f"Created key **{created.name}** (`{created.id}`). Copy it now: it is shown only once."
        )
        return message, gr.Textbox(value=created.key, visible=True), rows, ids

    async def revoke(token: SecretStr | None, key_id: str | None, sure: bool) -> tuple[Any, ...]:
        if token is None:
            return "Unlock with the admin token first.", gr.Dataframe(), gr.Dropdown(), False
        if not key_id:
            return "Pick the key to revoke.", gr.Dataframe(), gr.Dropdown(), sure
        if not sure:
            return (
                "Tick the box to confirm: a revoked key stops working at once.",
                gr.Dataframe(),
                gr.Dropdown(),
                sure,
            )
        try:
            revoked = await client.revoke_key(token.get_secret_value(), key_id)
            rows, ids = await listing(token)
        except GatewayError as exc:
            return f"⚠️ {admin_problem(exc)}", gr.Dataframe(), gr.Dropdown(), False
        ctx.log.info("admin_key_revoked", key_id=revoked.id)
        return f"Revoked **{revoked.name}** (`{revoked.id}`).", rows, ids, False

    def forget_new_key() -> Any:
        return gr.Textbox(value="", visible=False)

    with gr.Tab("Admin", id="admin", elem_id="tg-tab-admin"):
        # Inside the tab: a State directly under gr.Tabs shows up as a second "Admin" tab.
        admin_state = gr.State(None)
        with gr.Column(visible=True) as locked:
            gr.Markdown("Key management needs the gateway's admin token (`TOLLGATE_ADMIN_TOKEN`).")
            token_box = gr.Textbox(label="Admin token", type="password", elem_id="tg-admin-token")
            unlock_button = gr.Button("Unlock", variant="primary", elem_id="tg-admin-unlock")
        with gr.Column(visible=False) as unlocked:
            with gr.Row():
                refresh_button = gr.Button("Refresh", size="sm")
                lock_button = gr.Button("Lock", size="sm", variant="stop")
            keys_table = gr.Dataframe(
                headers=KEY_TABLE_HEADERS, interactive=False, wrap=True, elem_id="tg-admin-keys"
            )
            with gr.Accordion("Create a key", open=True):
                gr.Markdown(
                    "A limit left at 0 means no limit; expiry 0 means the key never expires."
                )
                with gr.Row():
                    name = gr.Textbox(label="Name", elem_id="tg-admin-name")
                    team = gr.Textbox(label="Team")
                    tier = gr.Dropdown(
                        TIERS, value="standard", label="Tier", allow_custom_value=True
                    )
                    models = gr.Textbox(label="Models", placeholder="comma-separated; empty = all")
                with gr.Row():
                    rpm = gr.Number(label="Requests/min", precision=0, minimum=0)
                    tpm = gr.Number(label="Tokens/min", precision=0, minimum=0)
                    concurrency = gr.Number(label="At once", precision=0, minimum=0)
                    daily = gr.Number(label="Tokens/day", precision=0, minimum=0)
                    monthly = gr.Number(label="Tokens/month", precision=0, minimum=0)
                    expires = gr.Number(label="Expires in days", precision=0, minimum=0)
                create_button = gr.Button(
                    "Create key", variant="primary", elem_id="tg-admin-create"
                )
                new_key = gr.Textbox(
                    label="New key — copy it now, it is not shown again",
                    visible=False,
                    interactive=False,
                    buttons=["copy"],
                    elem_id="tg-admin-new-key",
                )
            with gr.Accordion("Revoke a key", open=False), gr.Row():
                revoke_id = gr.Dropdown(choices=[], label="Key id", elem_id="tg-admin-revoke-id")
                sure = gr.Checkbox(label="Yes, revoke it", elem_id="tg-admin-sure")
                revoke_button = gr.Button("Revoke", variant="stop", elem_id="tg-admin-revoke")
        message = gr.Markdown(elem_id="tg-admin-message")

    private: dict[str, Any] = {"api_visibility": "private"}
    unlock_outputs = [message, token_box, admin_state, locked, unlocked, keys_table, revoke_id]
    unlock_button.click(unlock, [token_box], unlock_outputs, **private)
    token_box.submit(unlock, [token_box], unlock_outputs, **private)
    lock_button.click(
        lock, None, [admin_state, locked, unlocked, keys_table, message, new_key], **private
    )
    refresh_button.click(refresh, [admin_state], [keys_table, revoke_id, message], **private)
    create_button.click(
        create,
        [admin_state, name, team, tier, models, rpm, tpm, concurrency, daily, monthly, expires],
        [message, new_key, keys_table, revoke_id],
        **private,
    )
    revoke_button.click(
        revoke, [admin_state, revoke_id, sure], [message, keys_table, revoke_id, sure], **private
    )
    # A new key is shown once: the next action on the tab takes it off the screen.
    for button in (revoke_button, refresh_button):
        button.click(forget_new_key, None, [new_key], queue=False, **private)
    return AdminTab(admin_state=admin_state, locked=locked, unlocked=unlocked)
