"""Start Kefu's processes as children, wait until each is healthy, stop them all together.

`kefu run` uses this. A child that exits is reported with the last lines of its log, and then
the whole stack stops: a half-running assistant that silently lost its action server is worse
than one that says what broke.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tenacity import RetryError, Retrying, retry_if_exception_type, retry_if_result, wait_fixed

logger = logging.getLogger(__name__)


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    # Rasa loads TensorFlow and the model before it answers; give it time.
    start_timeout: float = 180.0


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen
    log_path: Path
    # Replicas start together, so "ready in" counts from each child's own start.
    started: float = field(default_factory=time.monotonic)

    def tail(self, lines: int = 20) -> str:
        try:
            with self.log_path.open("r", errors="replace") as fh:
                return "".join(deque(fh, maxlen=lines))
        except OSError:
            return ""


class ChildFailed(RuntimeError):
    pass


class StopRequested(Exception):
    """Ctrl-C or SIGTERM arrived while the stack was still starting."""


class Supervisor:
    def __init__(self, log_dir: Path, cwd: Path) -> None:
        self.log_dir = log_dir
        self.cwd = cwd
        self.children: list[Child] = []
        self._stopping = False

    def start(self, spec: ChildSpec) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{spec.name}.log"
        log_file = log_path.open("ab")
        env = {**os.environ, **spec.env}
        # A new process group per child so that Ctrl-C reaches us first and we stop the
        # children in order, instead of each of them dying half-way through a request.
        process = subprocess.Popen(
            spec.argv,
            cwd=self.cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        child = Child(spec, process, log_path)
        self.children.append(child)
        logger.info("started %s (pid %s), log %s", spec.name, process.pid, log_path)
        return child

    def wait_healthy(self, child: Child) -> float:
        """Seconds from the child's start until its health URL answered without a server
        error; asked every half second until its start timeout is over."""
        deadline = child.started + child.spec.start_timeout
        polling = Retrying(
            retry=retry_if_exception_type(httpx.HTTPError) | retry_if_result(lambda up: not up),
            wait=wait_fixed(0.5), stop=lambda _: time.monotonic() >= deadline)
        try:
            polling(self._answers_health_check, child)
        except RetryError:
            raise ChildFailed(
                f"{child.spec.name} did not become healthy at {child.spec.health_url} within "
                f"{child.spec.start_timeout:.0f} s; last log lines:\n{child.tail()}"
            ) from None
        return time.monotonic() - child.started

    def _answers_health_check(self, child: Child) -> bool:
        # A stop request or a dead child ends the wait at once (neither is retried).
        if self._stopping:
            raise StopRequested
        if child.process.poll() is not None:
            raise ChildFailed(self._death_report(child))
        return httpx.get(child.spec.health_url, timeout=2.0).status_code < 500

    def _death_report(self, child: Child) -> str:
        return (
            f"{child.spec.name} exited with code {child.process.returncode}; "
            f"last log lines ({child.log_path}):\n{child.tail()}"
        )

    def watch(self, poll: float = 1.0) -> None:
        """Block until a child dies (raises) or a stop is requested."""
        while not self._stopping:
            for child in self.children:
                if child.process.poll() is not None:
                    raise ChildFailed(self._death_report(child))
            time.sleep(poll)

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    def stop_all(self, timeout: float = 15.0) -> None:
        # Stop in reverse order: the gateway first, so no new customer message arrives while
        # Rasa or the action server go away.
        for child in reversed(self.children):
            if child.process.poll() is None:
                _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time; killing it", child.spec.name)
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()


def stop_process(process: subprocess.Popen, timeout: float) -> int:
    """SIGTERM (the process's own shutdown: `kefu run` stops its children in order), then
    SIGKILL to its whole group if it has not exited within `timeout`; its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
    return process.returncode


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def install_signal_handlers(supervisor: Supervisor) -> None:
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)


def python_of_this_env() -> str:
    return sys.executable
