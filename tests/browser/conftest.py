"""Fixtures for the browser tests: the real app over HTTP, and Debian's Chromium driven by Playwright for Python.

Set-up (once per machine): ``apt-get install -y chromium`` and ``pip install playwright``; Playwright's
own browser download is never used. ``TROLY_CHROMIUM`` may point at another Chromium binary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_app import ADMIN_KEY, ROOT, Live, seed
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    expect,
    sync_playwright,
)

SCREENSHOTS = ROOT / "docs" / "screenshots"
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

# Read at import: the suite clears every TROLY_* variable before its fixtures run (tests/conftest.py).
CHROMIUM = os.environ.get("TROLY_CHROMIUM")

expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def live(
    tmp_path_factory: pytest.TempPathFactory, start_server: Callable[..., AbstractContextManager[Any]]
) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("web-data")
    with (
        start_server(data_dir, prepare=seed, admin_key=ADMIN_KEY, require_read_key=False) as served,
        httpx.Client(base_url=served.url, timeout=60) as client,
    ):
        yield Live(served.url, served.settings, served.assistant, client)


def _chromium() -> str:
    found = CHROMIUM or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no Chromium: install Debian's with 'apt-get install -y chromium' (or set TROLY_CHROMIUM)")
    return found


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Watch:
    """What a page did that no page should: fetch from another host, throw, break the CSP."""

    base: str
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def request(self, request: Request) -> None:
        if not (request.url.startswith(self.base + "/") or request.url.startswith("data:")):
            self.outside.append(request.url)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def check(self) -> None:
        assert not self.outside, f"requests left the server: {self.outside}"
        assert not self.errors, f"errors in the page: {self.errors}"


def _open(browser: Browser, live: Live, **options: object) -> tuple[BrowserContext, Page, Watch]:
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options)  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch = Watch(live.url)
    page.on("request", watch.request)
    page.on("console", watch.console)
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
    return context, page, watch


@pytest.fixture()
def page(browser: Browser, live: Live) -> Iterator[Page]:
    context, page, watch = _open(browser, live, viewport={"width": 1280, "height": 900})
    yield page
    context.close()
    watch.check()


@pytest.fixture()
def phone(browser: Browser, live: Live) -> Iterator[Page]:
    context, page, watch = _open(
        browser, live, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    yield page
    context.close()
    watch.check()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the pages' screenshots go: the docs' own only when asked (UPDATE_SCREENSHOTS=1), so that
    a test run leaves the checkout as it found it."""
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return tmp_path_factory.mktemp("screenshots")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
