"""What the Rasa servers `kefu run` starts are told by default."""

from __future__ import annotations

from kefu.stack import rasa_specs
from kefu_config.settings import Settings


def test_rasa_telemetry_is_off_unless_the_shop_turns_it_on(monkeypatch, tmp_path):
    monkeypatch.delenv("RASA_TELEMETRY_ENABLED", raising=False)
    [spec] = rasa_specs(Settings(data_dir=tmp_path))
    assert spec.env["RASA_TELEMETRY_ENABLED"] == "false"
    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "true")
    [spec] = rasa_specs(Settings(data_dir=tmp_path))
    assert spec.env["RASA_TELEMETRY_ENABLED"] == "true"
