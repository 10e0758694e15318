"""Refuse unsupported file types at Gradio's upload route, before a byte is stored.

Gradio's File component checks `file_types` only when an event runs, and its upload route takes
any file. Every upload in this app is an article (SUPPORTED_TYPES) or a question file (.jsonl), so
this ASGI middleware reads the multipart body of POST .../gradio_api/upload, and answers 415 with
the list of supported types when a part's file name has another extension.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_FILENAME = re.compile(rb'filename\*?=(?:UTF-8\'\')?"?([^";\r\n]*)"?', re.I)


def part_filenames(body: bytes) -> list[str]:
    """The file names of a multipart body's parts (from their Content-Disposition headers)."""
    names = []
    for line in body.split(b"\r\n"):
        if line[:20].lower().startswith(b"content-disposition") and b"filename" in line:
            m = _FILENAME.search(line)
            if m:
                names.append(unquote(m.group(1).decode("utf-8", "replace")))
    return names


def refused(names: Iterable[str], allowed: Iterable[str]) -> list[str]:
    ok = {a.lower() for a in allowed}
    return [n for n in names if PurePosixPath(n.replace("\\", "/")).suffix.lower() not in ok]


class UploadTypeGuard:
    def __init__(self, app: ASGIApp, allowed: Iterable[str], max_bytes: int) -> None:
        self.app = app
        self.allowed = list(dict.fromkeys(allowed))
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and str(scope.get("path", "")).rstrip("/").endswith("/gradio_api/upload")
        ):
            await self.app(scope, receive, send)
            return
        # Buffer the body (bounded by the upload size limit) to read the part headers, then replay it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            more = bool(msg.get("more_body"))
            if size > self.max_bytes:
                break  # Gradio answers 413 for this one; no need to look further
        body = b"".join(chunks)
        bad = refused(part_filenames(body), self.allowed)
        if bad:
            text = (
                f"Unsupported file type: {', '.join(bad)}. Supported types: {' '.join(self.allowed)}"
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 415,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": text})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()

        await self.app(scope, replay, send)
