"""Shared machinery for the tests that look at the built book in headless Chromium.

Debian's ``chromium`` is driven by Playwright (never ``playwright install``: no browser
downloads). The site is served from 127.0.0.1; every request to another host is blocked and
recorded, so a page that still reaches for a CDN fails the tests instead of quietly working
only online.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SVRNN_CHROMIUM", "/usr/bin/chromium")
# `make test` builds the site from the stored notebook outputs into this folder;
# point SVRNN_BOOK_HTML at book/_build/html to check the output of `make book` instead.
BOOK_HTML = Path(os.environ.get("SVRNN_BOOK_HTML", ROOT / "book/_build/stored/_build/html"))
SCREENSHOTS = ROOT / "book/_build/screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip when no browser can run here, except under CI=true, where that is a failure."""
    reasons = []
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        reasons.append(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reasons.append("the playwright Python package is not installed")
    if reasons:
        message = "browser tests need Debian chromium and playwright: " + "; ".join(reasons)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 in a background thread; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser() -> Iterator[object]:
    """A headless Debian Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class PageLog:
    """What went wrong while a page loaded: failed or off-machine requests, console errors."""

    def __init__(self, page, base_url: str):
        self.failed: list[str] = []
        self.blocked: list[str] = []
        self.console_errors: list[str] = []
        self.http_errors: list[str] = []

        def route(r):
            if r.request.url.startswith(base_url) or r.request.url.startswith("data:"):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("requestfailed", lambda req: self.failed.append(f"{req.url} ({req.failure})"))
        page.on(
            "response",
            lambda resp: (
                resp.status >= 400 and self.http_errors.append(f"{resp.status} {resp.url}")
            ),
        )
        page.on(
            "console",
            lambda msg: msg.type == "error" and self.console_errors.append(msg.text),
        )
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))

    def problems(self) -> dict[str, list[str]]:
        found = {
            "requests to other hosts": self.blocked,
            "failed requests": [f for f in self.failed if not any(b in f for b in self.blocked)],
            "HTTP errors": self.http_errors,
            "console errors": self.console_errors,
        }
        return {k: v for k, v in found.items() if v}
