import socket

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port_factory():
    return free_port


@pytest.fixture
def shop_clock():
    """Set the product's clock (kefu_config/clock.py) for this test: `shop_clock(at)` makes it
    read `at` and run on from there, for the test and every server it runs in-process. Reset afterwards."""
    from kefu_config import clock

    def set_to(at):
        clock.set_source(clock.running_from_moment(at))

    yield set_to
    clock.set_source(None)


@pytest.fixture(scope="module")
def browser():
    """The system chromium, one per test module (tests/support/browser.py)."""
    from tests.support.browser import launch

    yield from launch()
