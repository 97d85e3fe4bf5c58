"""kefu/supervisor.py's wait for a child to become healthy, with small real children: one that
serves HTTP after a moment, one that dies, one that never answers."""

from __future__ import annotations

import sys
import time

import pytest

from kefu.supervisor import ChildFailed, ChildSpec, StopRequested, Supervisor
from tests.conftest import free_port


def spec(name: str, code: str, port: int, timeout: float = 20.0) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-c", code], f"http://127.0.0.1:{port}/",
                     start_timeout=timeout)


@pytest.fixture
def supervisor(tmp_path):
    supervisor = Supervisor(tmp_path / "logs", cwd=tmp_path)
    yield supervisor
    supervisor.stop_all(timeout=5)


def test_a_child_that_comes_up_late_is_waited_for(supervisor):
    port = free_port()
    code = ("import time, http.server; time.sleep(1.5); "
            f"http.server.HTTPServer(('127.0.0.1', {port}), "
            "http.server.SimpleHTTPRequestHandler).serve_forever()")
    ready_in = supervisor.wait_healthy(supervisor.start(spec("late", code, port)))
    assert 1.5 <= ready_in < 20


def test_a_child_that_dies_is_reported_with_its_log(supervisor):
    code = "import sys; print('no model found'); sys.exit(3)"
    with pytest.raises(ChildFailed, match=r"(?s)dies exited with code 3.*no model found"):
        supervisor.wait_healthy(supervisor.start(spec("dies", code, free_port())))


def test_a_child_that_never_answers_fails_after_its_start_timeout(supervisor):
    child = supervisor.start(spec("silent", "import time; time.sleep(60)", free_port(),
                                  timeout=1.5))
    started = time.monotonic()
    with pytest.raises(ChildFailed, match="silent did not become healthy .* within 2 s"):
        supervisor.wait_healthy(child)
    assert time.monotonic() - started < 5


def test_a_stop_request_ends_the_wait(supervisor):
    child = supervisor.start(spec("slow", "import time; time.sleep(60)", free_port()))
    supervisor.request_stop()
    with pytest.raises(StopRequested):
        supervisor.wait_healthy(child)
