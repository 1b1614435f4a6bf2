"""The chat's history becomes OpenAI messages and exports; UI notes never reach the model."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ui.conversation import export_json, export_markdown, parse_stop, text_of, to_openai_messages

HISTORY = [
    {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}], "metadata": None},
    {"role": "assistant", "content": [{"type": "text", "text": "**4**"}], "metadata": None},
    {"role": "user", "content": "And 3+3? [429]"},
    {
        "role": "assistant",
        "content": "You have reached a usage limit.",
        "metadata": {"title": "⚠️ Not answered"},
    },
    {"role": "user", "content": "And 3+3?"},
    {"role": "assistant", "content": "6"},
    {"role": "assistant", "content": [{"type": "text", "text": "Anything else?"}]},
]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_notes_and_the_questions_they_refused_are_dropped() -> None:
    messages = to_openai_messages(HISTORY, "  Be brief.  ")
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert messages[3]["content"] == "And 3+3?"
    # An answer Gradio split into two bubbles is one turn.
    assert messages[4]["content"] == "6\n\nAnything else?"
    assert all("usage limit" not in m["content"] and "[429]" not in m["content"] for m in messages)


def test_a_partial_answer_cut_by_an_error_stays_in_the_conversation() -> None:
    history = [
        {"role": "user", "content": "Tell me"},
        {"role": "assistant", "content": "Once upon"},
        {
            "role": "assistant",
            "content": "The engine stopped.",
            "metadata": {"title": "⚠️ Not answered"},
        },
    ]
    assert to_openai_messages(history) == [
        {"role": "user", "content": "Tell me"},
        {"role": "assistant", "content": "Once upon"},
    ]


def test_empty_system_prompt_and_empty_turns_are_left_out() -> None:
    assert to_openai_messages(
        [{"role": "user", "content": "  "}, {"role": "user", "content": "hi"}], ""
    ) == [{"role": "user", "content": "hi"}]


def test_text_of_ignores_files_and_reads_every_form() -> None:
    assert (
        text_of([{"type": "file", "file": {"path": "/x.png"}}, {"type": "text", "text": "hi"}])
        == "hi"
    )
    assert text_of(None) == "" and text_of("plain") == "plain"


def test_stop_sequences_one_per_line_with_escaped_newlines() -> None:
    assert parse_stop("###\n\\n\\nUser:\n\n") == ["###", "\n\nUser:"]
    assert parse_stop("") == [] and parse_stop(None) == []


def test_json_export_holds_the_model_sampling_and_messages() -> None:
    document = json.loads(
        export_json(
            HISTORY,
            model="m",
            system_prompt="sys",
            sampling={"temperature": 0.7, "seed": None, "stop": []},
            now=NOW,
        )
    )
    assert document["model"] == "m"
    assert document["sampling"] == {"temperature": 0.7}
    assert document["exported_at"] == NOW.isoformat()
    assert document["messages"] == to_openai_messages(HISTORY, "sys")


def test_markdown_export_has_a_heading_per_turn_and_keeps_markdown() -> None:
    text = export_markdown(
        HISTORY, model="m", system_prompt="sys", sampling={"temperature": 0.7}, now=NOW
    )
    assert text.startswith("# Conversation with m")
    assert "Sampling: temperature = 0.7" in text
    assert text.count("## You") == 2 and text.count("## Assistant") == 2 and "## System" in text
    assert "**4**" in text
