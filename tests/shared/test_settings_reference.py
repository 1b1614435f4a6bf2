"""README's configuration reference lists every setting the code has."""

from pathlib import Path

from shared.settings_reference import iter_settings, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_described() -> None:
    undocumented = [doc.env for doc in iter_settings() if not doc.description]
    assert undocumented == []


def test_readme_lists_every_setting_with_its_variable() -> None:
    text = README.read_text()
    missing = [doc.env for doc in iter_settings() if f"`{doc.env}`" not in text]
    assert missing == [], "run `tollgate config reference` and paste it into README.md"


def test_reference_is_a_markdown_table() -> None:
    lines = markdown_table().splitlines()
    assert lines[0].startswith("| variable")
    assert all(line.startswith("| ") for line in lines)
