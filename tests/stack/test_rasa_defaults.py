"""What the Rasa servers `kefu run` starts are told by default."""

from __future__ import annotations

from kefu.stack import MATH_THREAD_VARIABLES, action_server_specs, gateway_specs, rasa_specs
from kefu_config.settings import Settings


def test_rasa_telemetry_is_off_unless_the_shop_turns_it_on(monkeypatch, tmp_path):
    monkeypatch.delenv("RASA_TELEMETRY_ENABLED", raising=False)
    [spec] = rasa_specs(Settings(data_dir=tmp_path))
    assert spec.env["RASA_TELEMETRY_ENABLED"] == "false"
    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "true")
    [spec] = rasa_specs(Settings(data_dir=tmp_path))
    assert spec.env["RASA_TELEMETRY_ENABLED"] == "true"


def _blas_threads(env: dict[str, str]) -> int:
    """How many threads OpenBLAS gives one operation in a new Rasa-environment process."""
    import subprocess

    from kefu_config.settings import REPO_ROOT
    python = REPO_ROOT / ".venv-rasa" / "bin" / "python"
    out = subprocess.run(
        [str(python), "-c", "import numpy, threadpoolctl; print(max(p['num_threads'] for p in "
         "threadpoolctl.threadpool_info() if p['internal_api'] == 'openblas'))"],
        env=env, capture_output=True, text=True, check=True, timeout=60)
    return int(out.stdout.strip())


def test_each_process_does_its_sums_on_one_thread_unless_the_shop_says_otherwise(
        monkeypatch, tmp_path):
    # Three processes (gateway, Rasa, action server) share the machine's cores: a turn's small
    # matrix products on every core of every process fight each other (bench/load measures it).
    import os
    for name in MATH_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings(data_dir=tmp_path)
    [rasa] = rasa_specs(settings)
    for spec in [rasa, *action_server_specs(settings), *gateway_specs(settings)]:
        assert {spec.env[name] for name in MATH_THREAD_VARIABLES} == {"1"}, spec.name
    assert _blas_threads({**os.environ, **rasa.env}) == 1

    # An operator's own variable wins; math_threads=0 leaves the libraries' defaults.
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    [rasa] = rasa_specs(Settings(data_dir=tmp_path))
    assert "OPENBLAS_NUM_THREADS" not in rasa.env
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    [rasa] = rasa_specs(Settings(data_dir=tmp_path, math_threads=0))
    assert not set(MATH_THREAD_VARIABLES) & set(rasa.env)
    assert _blas_threads({**os.environ, **rasa.env}) == min(os.cpu_count() or 1, 64)
