from services.engine.platform import engine_environment
from shared.settings import EngineSettings


def test_cpu_build_gets_its_kv_cache_size_and_thread_binding() -> None:
    env = engine_environment(
        EngineSettings(cpu_kvcache_space_gib=2, cpu_threads="0-1"), gpu=False, base={}
    )
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"


def test_gpu_build_gets_no_cpu_settings() -> None:
    env = engine_environment(EngineSettings(), gpu=True, base={})
    assert "VLLM_CPU_KVCACHE_SPACE" not in env


def test_engine_never_reaches_for_a_model_hub() -> None:
    env = engine_environment(EngineSettings(), gpu=False, base={})
    assert env["HF_HUB_OFFLINE"] == "1"
