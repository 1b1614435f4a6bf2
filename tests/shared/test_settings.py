from pathlib import Path

import pytest

from shared.settings import DEFAULT_MODEL_NAME, Settings


def test_defaults_match_the_original_engine_command(clean_env: Path) -> None:
    s = Settings()
    assert (s.engine.port, s.gateway.port, s.ui.port) == (8000, 8080, 7860)
    assert s.engine.tensor_parallel_size == 1
    assert s.engine.gpu_memory_utilization == 0.8
    assert s.engine.max_model_len == 2048
    assert s.engine.trust_remote_code is True
    assert s.engine.host == "127.0.0.1"


def test_default_model_and_database_live_in_the_data_dir(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(clean_env / "data"))
    s = Settings()
    assert s.model_dir == clean_env / "data" / "models" / DEFAULT_MODEL_NAME
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{clean_env / 'data' / 'tollgate.db'}"


def test_upstreams_read_comma_separated_from_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_UPSTREAMS", "http://a:8000/, http://b:8000")
    assert Settings().upstreams == ["http://a:8000", "http://b:8000"]


def test_nested_sections_read_with_double_underscore(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_ENGINE__PORT", "8001")
    monkeypatch.setenv("TOLLGATE_ENGINE__EXTRA_ARGS", "--enforce-eager --seed 1")
    s = Settings()
    assert s.engine.port == 8001
    assert s.engine.extra_args == ["--enforce-eager", "--seed", "1"]


def test_dotenv_file_is_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "TOLLGATE_ADMIN_TOKEN=s3cret\nTOLLGATE_ENGINE__MAX_MODEL_LEN=4096\n"
    )
    s = Settings()
    assert s.admin_token is not None and s.admin_token.get_secret_value() == "s3cret"
    assert s.engine.max_model_len == 4096
    assert "s3cret" not in repr(s)


def test_flags_override_only_what_was_given(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_ENGINE__PORT", "8001")
    s = Settings().with_section("engine", port=None, max_model_len=512)
    assert s.engine.port == 8001
    assert s.engine.max_model_len == 512


def test_invalid_values_are_refused(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("TOLLGATE_ENGINE__GPU_MEMORY_UTILIZATION", "1.5")
    with pytest.raises(ValidationError, match="gpu_memory_utilization"):
        Settings()
