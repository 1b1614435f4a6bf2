"""The configuration reference (every setting, its variable, default) derived from the models,
so README's table cannot drift from the code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from shared.settings import Settings


@dataclass(frozen=True)
class SettingDoc:
    env: str
    default: str
    description: str


def _default(name: str, info: FieldInfo) -> str:
    if name == "data_dir":
        return "~/.local/share/tollgate"  # the platform's user data dir, shown portably
    if info.default_factory is not None:
        try:
            value = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return ""
    else:
        value = info.default
    if value is None:
        return "unset"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "empty"
    if isinstance(value, SecretStr):
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def iter_settings(
    model: type[BaseModel] = Settings, prefix: str = "TOLLGATE_"
) -> Iterator[SettingDoc]:
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from iter_settings(annotation, f"{prefix}{name.upper()}__")
            continue
        yield SettingDoc(f"{prefix}{name.upper()}", _default(name, info), info.description or "")


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for doc in iter_settings():
        rows.append(f"| `{doc.env}` | `{doc.default}` | {doc.description} |")
    return "\n".join(rows)


def effective(settings: Settings) -> str:
    """The settings in force, secrets masked, as JSON."""
    return json.dumps(settings.model_dump(mode="json"), indent=2, default=str)


START_MARKER = "<!-- settings-reference:start -->"
END_MARKER = "<!-- settings-reference:end -->"


def update_markdown(text: str) -> str:
    """`text` with the table between the markers replaced by the current one."""
    start = text.index(START_MARKER) + len(START_MARKER)
    end = text.index(END_MARKER)
    return f"{text[:start]}\n{markdown_table()}\n{text[end:]}"
