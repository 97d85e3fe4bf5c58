"""Starts the real stack (`kefu run`) on free ports with a throw-away data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KEFU = Path(sys.executable).parent / "kefu"


@dataclass
class RunningStack:
    process: subprocess.Popen
    gateway_url: str
    env: dict[str, str]
    data_dir: Path
    output_path: Path

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def start_stack(data_dir: Path, ports: dict[str, int], extra_env: dict[str, str] | None = None,
                timeout: float = 300.0) -> RunningStack:
    env = {
        **os.environ,
        "KEFU_DATA_DIR": str(data_dir),
        "KEFU_GATEWAY_PORT": str(ports["gateway"]),
        "KEFU_RASA_PORT": str(ports["rasa"]),
        "KEFU_ACTION_PORT": str(ports["actions"]),
        **(extra_env or {}),
    }
    output_path = data_dir / "kefu-run.out"
    data_dir.mkdir(parents=True, exist_ok=True)
    out = output_path.open("wb")
    process = subprocess.Popen([str(KEFU), "run"], cwd=REPO, env=env, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    stack = RunningStack(process, f"http://127.0.0.1:{ports['gateway']}", env, data_dir,
                         output_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Kefu is running" in stack.output():
            return stack
        if process.poll() is not None:
            raise RuntimeError(f"kefu run exited early:\n{stack.output()}")
        time.sleep(0.5)
    stack.stop()
    raise RuntimeError(f"kefu run did not start within {timeout} s:\n{stack.output()}")
