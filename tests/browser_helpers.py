"""What every browser test shares: Debian's Chromium, a page opened on the app, the app served in-process.

The `browser` fixture (conftest.py) launches Chromium once per session; never `playwright install`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

from rag.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_page(browser: Browser, url: str, downloads: bool = True) -> Page:
    """A page of the app in a fresh context (its own storage), at 1440 px, once the question box is there.
    Close it with `page.context.close()`."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=downloads)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.locator("#question textarea").wait_for()
    return page


@contextmanager
def served(pipeline: Any, settings: Settings) -> Iterator[str]:
    """The app over `pipeline`, launched in-process with the production launch settings; yields its URL."""
    from index.ingest import delete_article, ingest_paths
    from ui.app import build_app
    from ui.main import launch

    app = build_app(pipeline, settings, ingest=ingest_paths, delete=delete_article)
    _, url, _ = launch(app, settings, prevent_thread_lock=True, quiet=True)
    try:
        yield url.rstrip("/")
    finally:
        app.close()
