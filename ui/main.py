"""Launch the UI: serve() for `rag serve`, main() for `python -m ui.main` (read-only, no writers).

Safe defaults: loopback only, no share link, no analytics, upload size capped, no extra file routes.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from rag.errors import ConfigError  # noqa: E402
from rag.settings import PROJECT_ROOT, Settings  # noqa: E402


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


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    """Arguments for Blocks.launch(): the security defaults, the page's CSS and script."""
    import gradio as gr

    from ui.assets import CSS, PAGE_JS

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
    }


def launch(app: Any, settings: Settings, **overrides: Any) -> Any:
    """Launch a built app with launch_kwargs(settings), `overrides` on top (e.g. prevent_thread_lock)."""
    return app.launch(**{**launch_kwargs(settings), **overrides})


def serve(
    settings: Settings,
    ingest: Callable[..., Any] | None = None,
    delete: Callable[..., Any] | None = None,
    eval_runner: Callable[[Path], Path] | None = None,
    eval_reports_dir: Path | None = None,
    **launch_overrides: Any,
) -> Any:
    """Open the pipeline, build the app and serve it until interrupted (the `rag serve` entry point)."""
    check_exposure(settings)  # fail before loading the model
    from rag.pipeline import build_pipeline
    from ui.app import build_app

    pipeline = build_pipeline(settings)
    reports = eval_reports_dir or PROJECT_ROOT / "reports"
    app = build_app(
        pipeline, settings, ingest=ingest, delete=delete, eval_runner=eval_runner, eval_reports_dir=reports
    )
    return launch(app, settings, **launch_overrides)


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
