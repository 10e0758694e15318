"""Launch the UI: serve() for `rag serve`, main() for `python -m ui.main` (read-only, no writers).

Safe defaults: loopback only, no share link, no analytics, upload size capped, no extra file routes.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from rag.errors import ConfigError  # noqa: E402
from rag.settings import Settings  # noqa: E402


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Refuse to listen beyond loopback without a login, unless explicitly allowed."""
    has_auth = bool(settings.ui_user and settings.ui_password)
    if bool(settings.ui_user) != bool(settings.ui_password):
        raise ConfigError("set both RAG_UI_USER and RAG_UI_PASSWORD to enable the login, or neither")
    if not is_loopback(settings.ui_host) and not has_auth and not settings.allow_remote:
        raise ConfigError(
            f"refusing to serve on {settings.ui_host} without a login: anyone on the network could "
            "query and change the corpus. Set RAG_UI_USER and RAG_UI_PASSWORD, or pass --allow-remote."
        )


def check_port_free(host: str, port: int) -> None:
    """ConfigError naming the port when something already listens there (before any model loads)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        # As uvicorn does: a port whose last server just stopped (TIME_WAIT) is free, a listener is not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise ConfigError(f"port {port} is in use; pass --port N (or set RAG_UI_PORT)") from None


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    """Arguments for Blocks.launch(): the security defaults, the page's CSS and script."""
    import gradio as gr
    from starlette.middleware import Middleware

    from ui.assets import CSS, PAGE_JS
    from ui.corpus import SUPPORTED_TYPES
    from ui.upload_guard import UploadTypeGuard

    check_exposure(settings)
    auth = (settings.ui_user, settings.ui_password) if settings.ui_user and settings.ui_password else None
    return {
        "server_name": settings.ui_host,
        "server_port": settings.ui_port,
        "share": False,
        "auth": auth,
        "max_file_size": f"{settings.max_upload_mb}mb",
        # Nothing outside Gradio's own cache is served; the store is blocked outright as well.
        "allowed_paths": [],
        "blocked_paths": [str(settings.data_dir.resolve())],
        "theme": gr.themes.Default(primary_hue="blue", secondary_hue="slate", neutral_hue="slate"),
        "css": CSS,
        "js": PAGE_JS,
        "footer_links": ["api"],
        "ssr_mode": False,
        "enable_monitoring": False,
        "mcp_server": False,
        # Every upload here is an article or a question file: other types are refused at the route.
        "app_kwargs": {
            "middleware": [
                Middleware(
                    UploadTypeGuard,
                    allowed=SUPPORTED_TYPES,
                    max_bytes=settings.max_upload_mb * 1024 * 1024 + 65536,
                )
            ]
        },
    }


def launch(app: Any, settings: Settings, **overrides: Any) -> Any:
    """Launch a built app with launch_kwargs(settings), `overrides` on top (e.g. prevent_thread_lock)."""
    return app.launch(**{**launch_kwargs(settings), **overrides})


def serve(
    settings: Settings,
    ingest: Callable[..., Any] | None = None,
    delete: Callable[..., Any] | None = None,
    eval_runner: Callable[[Path], Path] | None = None,
    **launch_overrides: Any,
) -> Any:
    """Open the pipeline, build the app and serve it until interrupted (the `rag serve` entry point).

    An empty data directory gets an empty store first, so the UI can be the first step. Cold
    start (issue 14, docs/benchmarks.md): the page is served as soon as gradio is imported and
    the app built; the store and the BM25 index are opened meanwhile in a thread, and anything
    that needs them (a question, the corpus list) waits for that, it never fails for it.
    """
    check_exposure(settings)  # fail before loading the model
    check_port_free(settings.ui_host, settings.ui_port)
    from rag.storage import check_model

    check_model(settings)  # a store built with another model is refused now, not at the first question
    opening = OpeningPipeline(settings)
    from ui.app import build_app  # imports gradio: seconds; the pipeline opens meanwhile
    from ui.corpus_search import lexical_text_search

    def text_search(word: str) -> set[str]:
        search = lexical_text_search(opening.pipeline())
        return search(word) if search else set()

    app = build_app(
        opening, settings, ingest=ingest, delete=delete, eval_runner=eval_runner, text_search=text_search
    )
    return launch(app, settings, **launch_overrides)


class OpeningPipeline:
    """A rag Pipeline while a thread opens it (model, store, then BM25 in the background).

    Stands in for the pipeline in the app: any attribute waits for the opening to end and raises
    its error, if it failed. The embedding model is ready first (the Corpus tab keeps it for uploads).
    """

    def __init__(self, settings: Settings) -> None:
        self._embedder: Future[Any] = Future()
        self._pipeline: Future[Any] = Future()
        threading.Thread(target=self._open, args=(settings,), name="rag-open", daemon=True).start()

    def _open(self, settings: Settings) -> None:
        step = self._embedder
        try:
            from rag.embedding import load_embedder
            from rag.pipeline import build_pipeline

            embedder = load_embedder(settings)
            self._embedder.set_result(embedder)
            step = self._pipeline
            ensure_store(settings, embedder.dim)
            pipeline = build_pipeline(settings, embedder)
            pipeline.storage.preload()  # holds the BM25 lock before anyone can use the pipeline
            self._pipeline.set_result(pipeline)
        except BaseException as exc:  # raised by .result() wherever the pipeline is needed
            for f in (step, self._pipeline):
                if not f.done():
                    f.set_exception(exc)

    @property
    def embedder(self) -> Any:
        return self._embedder.result()

    def pipeline(self) -> Any:
        return self._pipeline.result()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline.result(), name)


def ensure_store(settings: Settings, dim: int, wait_s: float = 300.0) -> None:
    """Create an empty store in `settings.data_dir` unless one is there (a writer may be creating it)."""
    from rag.errors import StoreLockedError
    from rag.lock import WriterLock
    from rag.storage import open_storage, store_exists

    deadline = time.monotonic() + wait_s
    while not store_exists(settings):
        try:
            with WriterLock(settings.data_dir):
                if not store_exists(settings):
                    open_storage(settings, create=True, dim=dim).close()
        except StoreLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m ui.main [--data-dir DIR] [--host H] [--port P] [--allow-remote]`: read-only UI."""
    ap = argparse.ArgumentParser(prog="python -m ui.main", description=__doc__)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--host")
    ap.add_argument("--port", type=int)
    ap.add_argument("--allow-remote", action="store_true", default=None)
    args = ap.parse_args(argv)
    settings = Settings.from_env(
        data_dir=args.data_dir, ui_host=args.host, ui_port=args.port, allow_remote=args.allow_remote
    )
    serve(settings)


if __name__ == "__main__":
    main()
