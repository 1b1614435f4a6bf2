"""The chat's history: from Gradio's messages to OpenAI's, and out as Markdown or JSON.

Gradio 6 keeps a conversation as messages whose `content` is a list of parts
(`{"type": "text", "text": …}`); notes the UI adds itself (errors, "stopped") carry a
`metadata.title` and are not part of what the model sees.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

NOTE_KEY = "metadata"


def text_of(content: Any) -> str:
    """The text of a message's content, whatever form Gradio gives it in."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        if content.get("type") == "text" or "text" in content:
            return str(content.get("text") or "")
        return ""  # a file or component: nothing the text model can read
    if isinstance(content, Sequence):
        return "".join(text_of(part) for part in content)
    return str(content)


def is_note(message: Mapping[str, Any]) -> bool:
    """A UI note (error, stop marker) rather than a turn of the conversation."""
    metadata = message.get(NOTE_KEY) or {}
    return bool(isinstance(metadata, Mapping) and metadata.get("title"))


def to_openai_messages(
    history: Sequence[Mapping[str, Any]], system_prompt: str | None = None
) -> list[dict[str, str]]:
    """OpenAI chat messages: the system prompt first, then every user/assistant turn.

    A question the UI answered only with a note (it failed before any answer came) is left
    out, as the model never answered it; consecutive pieces of one role (Gradio may split an
    answer into several bubbles) are joined, and empty turns are dropped, so the chat template
    sees a clean alternation.
    """
    messages: list[dict[str, str]] = []
    if system_prompt and system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt.strip()})
    for message in history:
        role = message.get("role")
        if is_note(message):
            if messages and messages[-1]["role"] == "user":
                messages.pop()
            continue
        if role not in ("user", "assistant"):
            continue
        text = text_of(message.get("content"))
        if not text.strip():
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + text
        else:
            messages.append({"role": str(role), "content": text})
    return messages


def parse_stop(text: str | None) -> list[str]:
    """Stop sequences, one per line; `\\n` in a line stands for a newline."""
    if not text:
        return []
    stops = [line.replace("\\n", "\n") for line in text.splitlines()]
    return [stop for stop in stops if stop]


def _set_values(sampling: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling settings the user set (empty fields left at the engine's default)."""
    return {k: v for k, v in sampling.items() if v not in (None, "", [])}


def export_json(
    history: Sequence[Mapping[str, Any]],
    *,
    model: str | None,
    system_prompt: str | None,
    sampling: Mapping[str, Any],
    now: datetime | None = None,
) -> str:
    """The conversation as JSON: OpenAI messages plus what produced them."""
    document = {
        "exported_at": (now or datetime.now(UTC)).isoformat(),
        "model": model,
        "sampling": _set_values(sampling),
        "messages": to_openai_messages(history, system_prompt),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def export_markdown(
    history: Sequence[Mapping[str, Any]],
    *,
    model: str | None,
    system_prompt: str | None,
    sampling: Mapping[str, Any],
    now: datetime | None = None,
) -> str:
    """The conversation as Markdown, one heading per turn; answers keep their own Markdown."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# Conversation with {model or 'the model'}", "", f"_Exported {stamp}._", ""]
    settings = ", ".join(f"{k} = {v}" for k, v in _set_values(sampling).items())
    if settings:
        lines += [f"Sampling: {settings}", ""]
    titles = {"system": "System", "user": "You", "assistant": "Assistant"}
    for message in to_openai_messages(history, system_prompt):
        lines += [f"## {titles[message['role']]}", "", message["content"].rstrip(), ""]
    return "\n".join(lines)
