"""Headless Chromium (Debian's `chromium` package) driven by Playwright for Python.

Playwright's own browser download is never used (`playwright install` is not run): the
browser is /usr/bin/chromium, started with a fresh profile in a temporary directory.

    with Browser(tmp_path / "profile") as browser:
        page = browser.page()          # records console errors and page errors
        page.goto(url)
        browser.problems               # ["console error: …", "page error: …"]
"""
from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
NETWORK_CHANGED = "net::ERR_NETWORK_CHANGED"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


class Browser:
    def __init__(self, profile_dir: Path, viewport=(1400, 900)):
        self.profile_dir = Path(profile_dir)
        self.viewport = {"width": viewport[0], "height": viewport[1]}
        self.problems: list[str] = []
        self._pw = self.context = None

    def __enter__(self) -> "Browser":
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self.context = self._pw.chromium.launch_persistent_context(
            str(self.profile_dir), executable_path=chromium_path(), headless=True, args=ARGS,
            viewport=self.viewport)
        return self

    def page(self):
        """A tab. Loads aborted because an address of this host changed (Chromium's
        net::ERR_NETWORK_CHANGED, caused by other processes) are counted in
        `page.network_changes`, not reported as the page's problems."""
        page = self.context.new_page()
        page.network_changes = 0

        def failed(request):
            if NETWORK_CHANGED in (request.failure or ""):
                page.network_changes += 1

        page.on("requestfailed", failed)
        page.on("console", lambda m: m.type == "error" and NETWORK_CHANGED not in m.text
                and self.problems.append(f"console error on {page.url}: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error on {page.url}: {e}"))
        return page

    def __exit__(self, *exc) -> None:
        try:
            if self.context is not None:
                self.context.close()
        finally:
            if self._pw is not None:
                self._pw.stop()
