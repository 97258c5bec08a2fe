"""Fixtures of the console tests: a real server, headless Chromium, screenshots.

    browser      session   harness.browser.Browser (Debian's chromium via Playwright)
    page         function  a new tab; fails the test if the console logged an error;
                           its last screenshot is saved under tests/artifacts/ui/
    ui_server    module    `netqos server` (noauth) on a fresh SQLite file
    admin        module    httpx client of ui_server
"""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.harness.browser import Browser, chromium_path
from tests.harness.server import ServerProcess

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"


def require_browser():
    from tests.conftest import unavailable

    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("the console tests need the playwright Python package (make test)")
    if chromium_path() is None:
        unavailable("the console tests need Debian's chromium (make test installs it)")


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    require_browser()
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


@pytest.fixture
def page(browser, request):
    """A tab; a test that provokes an HTTP error on purpose lists the statuses it expects
    in `page.expected_statuses` (Chromium logs every failed load as a console error)."""
    before = len(browser.problems)
    tab = browser.page()
    tab.expected_statuses = ()
    yield tab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
    finally:
        tab.close()
    problems = [p for p in browser.problems[before:] if not any(
        f"status of {code} " in p for code in tab.expected_statuses)]
    assert not problems, "the browser console reported errors:\n" + "\n".join(problems)


def start_server(tmp_path_factory, **kwargs) -> ServerProcess:
    d = tmp_path_factory.mktemp("ui-server")
    return ServerProcess(f"sqlite:///{d}/netqos.sqlite", log_dir=d, **kwargs).start()


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    srv = start_server(tmp_path_factory)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(ui_server):
    with httpx.Client(base_url=ui_server.url, timeout=30) as client:
        yield client
