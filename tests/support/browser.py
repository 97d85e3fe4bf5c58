"""Debian's chromium driven by Playwright, for the tests marked `browser` (no browser is
downloaded: `make browser` installs the system package)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless in a container: no sandbox, no GPU, nothing that phones home during a test.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]


def launch() -> Iterator[Browser]:
    """One chromium for as long as the caller (a module-scoped fixture) needs it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
