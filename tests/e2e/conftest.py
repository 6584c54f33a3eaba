"""Headless Chromium (Debian's, driven by Playwright) against a real emulator process.

Every page runs in a fresh browser context whose requests are all routed through a guard: a
request to any origin but the emulator's is recorded and aborted, and the test fails. The console
is recorded too: any error fails the test unless the test names it as expected (a browser logs
the HTTP errors the tests provoke on purpose, such as the forced 429).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    Request,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.server import Running, start

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
# Chromium's flags that work in this project's containers and CI (no sandbox, no GPU, nothing
# fetched in the background); Playwright's own browser download is not used.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}

expect.set_options(timeout=TIMEOUT_MS)


def _find_chromium() -> str | None:
    for candidate in (os.environ.get("VIVI_E2E_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _install_chromium() -> str:
    """Install Debian's chromium with scripts/setup-system (as root); say why if it cannot."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "setup-system")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return (result.stdout + result.stderr).strip()


@pytest.fixture(scope="package")
def chromium_path() -> str:
    found = _find_chromium()
    if found is None:
        said = _install_chromium()
        found = _find_chromium()
        if found is None:
            # A failure, not a skip: a run without the browser tests must not look green.
            pytest.fail(
                "browser tests need Chromium and none could be installed (Debian's 'chromium', "
                f"installed by scripts/setup-system as root): {said or 'no apt-get or not root'}"
            )
    return found


@pytest.fixture(scope="package")
def emulator() -> Iterator[Running]:
    running = start()
    yield running
    running.stop()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    # launch() starts Chromium with a fresh temporary profile (user data dir) every run.
    launched = playwright.chromium.launch(
        executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True, timeout=30_000
    )
    yield launched
    launched.close()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Watch:
    """What one page did: every request, those that left the origin, console errors."""

    base_url: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect_console_error(self, pattern: str) -> None:
        """A console error this test provokes on purpose (matched with re.search)."""
        self.expected.append(re.compile(pattern))

    def unexpected_console_errors(self) -> list[str]:
        return [
            text
            for text in self.console_errors
            if not any(pattern.search(text) for pattern in self.expected)
        ]

    def guard(self, route: Route, request: Request) -> None:
        self.requests.append(f"{request.method} {request.url}")
        if request.url.startswith(("data:", "blob:")) or origin(request.url) == self.base_url:
            route.continue_()
        else:
            self.foreign.append(f"{request.method} {request.url}")
            route.abort("blockedbyclient")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location.get("url", "")
            self.console_errors.append(f"{message.text} ({location})")

    def on_page_error(self, error: Error) -> None:
        self.console_errors.append(f"uncaught: {error.message}")


def open_context(browser: Browser, watch: Watch) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT, base_url=watch.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.route("**/*", watch.guard)
    return context


@pytest.fixture
def watch(emulator: Running) -> Watch:
    return Watch(emulator.base_url)


@pytest.fixture
def page(browser: Browser, watch: Watch) -> Iterator[Page]:
    """A fresh page; after the test, no request may have left the origin, nor an error shown."""
    context = open_context(browser, watch)
    page = context.new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    yield page
    context.close()
    assert watch.foreign == [], f"requests left the emulator's origin: {watch.foreign}"
    assert watch.unexpected_console_errors() == [], "errors in the browser console"


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot of this step under test-artifacts/e2e/ (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), timeout=TIMEOUT_MS)
    return path
