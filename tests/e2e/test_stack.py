"""The whole stack as a customer meets it: `kefu run`, then a message on the REST channel."""

import os
import signal

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.stack import start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    ports = {"gateway": free_port(), "rasa": free_port(), "actions": free_port()}
    running = start_stack(tmp_path_factory.mktemp("kefu-data"), ports)
    yield running
    running.stop()


def test_hello_gets_the_trained_greeting(stack):
    response = httpx.post(f"{stack.gateway_url}/webhooks/rest/webhook",
                          json={"sender": "e2e-hello", "message": "hello"}, timeout=60)
    assert response.status_code == 200
    texts = [m.get("text", "") for m in response.json()]
    assert any("I'm Kefu" in t for t in texts), texts
    assert all(m["recipient_id"] == "e2e-hello" for m in response.json())


def test_health_reports_rasa_up(stack):
    body = httpx.get(f"{stack.gateway_url}/healthz", timeout=10).json()
    assert body == {"status": "ok", "rasa": True}


def test_run_prints_where_to_open_the_shop(stack):
    assert f"Open the shop page: {stack.gateway_url}/" in stack.output()


def test_bad_payload_gets_422_with_reason(stack):
    response = httpx.post(f"{stack.gateway_url}/webhooks/rest/webhook",
                          json={"message": "hello"}, timeout=10)
    assert response.status_code == 422
    assert "sender" in response.text


def test_sigterm_stops_every_child(stack):
    # The module's stack, after the tests above: one start fewer (a start is half a minute).
    running = stack
    pids = [int(line.split("pid ")[1].split(")")[0])
            for line in running.output().splitlines() if "(pid " in line]
    assert len(pids) == 3, running.output()
    assert running.stop() == 0, running.output()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "Stopped." in running.output()


def test_dead_child_is_reported_with_its_log(tmp_path):
    ports = {"gateway": free_port(), "rasa": free_port(), "actions": free_port()}
    running = start_stack(tmp_path, ports)
    action_pid = next(int(line.split("pid ")[1].split(")")[0])
                      for line in running.output().splitlines()
                      if "started actions (pid" in line)
    os.kill(action_pid, signal.SIGKILL)
    running.process.wait(30)
    assert running.process.returncode == 1
    out = running.output()
    assert "actions exited with code -9" in out
    assert "last log lines" in out
