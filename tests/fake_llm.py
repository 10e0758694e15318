"""A scripted OpenAI- and Ollama-compatible HTTP server on 127.0.0.1, for tests of the LLM path.

>>> with FakeLLMServer() as srv:
...     srv.push("Turnout was 61% [1].")
...     srv.openai_url.startswith("http://127.0.0.1:")
True

Plus `make_hits`, which builds Hit objects (with sentence spans) from short article texts.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rag.types import Article, Chunk, Hit, Span

DEFAULT_MODEL = "fake-model"


@dataclass
class Reply:
    """One scripted reply: text to stream, or an HTTP error; `delay` waits before answering."""

    text: str = ""
    status: int = 200
    error: str = ""
    delay: float = 0.0
    stall_after: int | None = None  # stop streaming after this many tokens, for `stall` seconds
    stall: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    body: dict[str, Any]


@dataclass
class FakeLLMServer:
    """Scripted replies in a queue; unknown model names get 404; every request is recorded."""

    models: set[str] = field(default_factory=lambda: {DEFAULT_MODEL})
    default_reply: str = "NOT_IN_SOURCES"
    delay: float = 0.0  # "slow" mode: seconds to wait before every reply
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    # Answers computed from the request (e.g. tests/obedient_llm.py) when no scripted reply is queued.
    responder: Callable[[dict[str, Any]], str] | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    # --- scripting
    def push(self, text: str, **kw: Any) -> None:
        self.replies.append(Reply(text=text, **kw))

    def push_error(self, status: int, error: str) -> None:
        self.replies.append(Reply(status=status, error=error))

    def chat_requests(self) -> list[Recorded]:
        return [
            r for r in self.requests if r.path in ("/v1/chat/completions", "/api/chat", "/v1/completions")
        ]

    # --- lifecycle
    def start(self) -> FakeLLMServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a handler sleeping in slow mode must not block close
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    # --- used by the handler
    def next_reply(self, body: dict[str, Any] | None = None) -> Reply:
        if self.replies:
            return self.replies.popleft()
        if self.responder is not None and body is not None:
            return Reply(text=self.responder(body))
        return Reply(text=self.default_reply)

    def sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)


def tokens(text: str) -> list[str]:
    """Split like a tokenizer would, roughly: words, spaces and each punctuation mark apart."""
    return re.findall(r"\w+|\s+|[^\w\s]", text)


def _handler(srv: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean

        def handle_one_request(self) -> None:
            # The client may give up (a timeout test): then there is nothing left to answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle_one_request()

        def do_GET(self) -> None:
            srv.requests.append(Recorded("GET", self.path, {}))
            if self.path == "/v1/models":
                self._json(
                    200,
                    {"object": "list", "data": [{"id": m, "object": "model"} for m in sorted(srv.models)]},
                )
            elif self.path == "/api/tags":
                self._json(200, {"models": [{"name": m, "model": m} for m in sorted(srv.models)]})
            elif self.path == "/api/version":
                self._json(200, {"version": "0.0.0-fake"})
            else:
                self._json(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            srv.requests.append(Recorded("POST", self.path, body))
            ollama = self.path.startswith("/api/")
            if self.path not in ("/v1/chat/completions", "/v1/completions", "/api/chat", "/api/show"):
                return self._json(404, {"error": f"no route {self.path}"})
            model = body.get("model", "")
            if model not in srv.models:
                if ollama:
                    return self._json(404, {"error": f"model '{model}' not found, try pulling it first"})
                msg = f"The model `{model}` does not exist."
                err = {"message": msg, "type": "invalid_request_error", "code": "model_not_found"}
                return self._json(404, {"error": err})
            if self.path == "/api/show":
                return self._json(200, {"modelinfo": {"fake.context_length": 8192}, "details": {}})
            reply = srv.next_reply(body)
            srv.sleep(srv.delay + reply.delay)
            if reply.status != 200:
                err_body: Any = {"error": reply.error} if ollama else {"error": {"message": reply.error}}
                return self._json(reply.status, err_body)
            stream = body.get("stream", ollama)  # Ollama streams unless told not to
            if self.path == "/api/chat":
                return (
                    self._ollama(model, reply)
                    if stream
                    else self._json(200, _ollama_msg(model, reply.text, True))
                )
            chat = self.path == "/v1/chat/completions"
            if not stream:
                return self._json(200, _openai_full(model, reply.text, chat))
            self._openai_stream(
                model, reply, chat, bool((body.get("stream_options") or {}).get("include_usage"))
            )

        def _json(self, status: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start_stream(self, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()  # no length: HTTP/1.0, the body ends when the connection closes

        def _pieces(self, reply: Reply) -> Iterator[str]:
            for i, tok in enumerate(tokens(reply.text)):
                if reply.stall_after is not None and i == reply.stall_after:
                    srv.sleep(reply.stall)
                yield tok

        def _openai_stream(self, model: str, reply: Reply, chat: bool, usage: bool) -> None:
            self._start_stream("text/event-stream")
            first = True
            for tok in self._pieces(reply):
                self._sse(_openai_chunk(model, tok, chat, first=first))
                first = False
            self._sse(_openai_chunk(model, "", chat, finish="stop"))
            if usage:
                n = len(tokens(reply.text))
                self._sse(_openai_chunk(model, "", chat, usage={"prompt_tokens": 1, "completion_tokens": n,
                                                                "total_tokens": n + 1}))  # fmt: skip
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _sse(self, obj: Any) -> None:
            self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
            self.wfile.flush()

        def _ollama(self, model: str, reply: Reply) -> None:
            self._start_stream("application/x-ndjson")
            for tok in self._pieces(reply):
                self.wfile.write(json.dumps(_ollama_msg(model, tok, False)).encode() + b"\n")
                self.wfile.flush()
            self.wfile.write(json.dumps(_ollama_msg(model, "", True)).encode() + b"\n")
            self.wfile.flush()

    return Handler


def _openai_chunk(
    model: str, tok: str, chat: bool, first: bool = False, finish: str | None = None, usage: Any = None
) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
    if chat:
        choice["delta"] = {"role": "assistant", "content": tok} if first else {"content": tok}
    else:
        choice["text"] = tok
    obj = "chat.completion.chunk" if chat else "text_completion"
    out: dict[str, Any] = {"id": "fake-1", "object": obj, "created": int(time.time()), "model": model}
    out["choices"] = [] if usage else [choice]
    if usage:
        out["usage"] = usage
    return out


def _openai_full(model: str, text: str, chat: bool) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
    if chat:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    n = len(tokens(text))
    return {
        "id": "fake-1",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1},
    }


def _ollama_msg(model: str, content: str, done: bool) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "model": model,
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    if done:
        msg |= {"done_reason": "stop", "total_duration": 1, "prompt_eval_count": 1, "eval_count": 1}
    return msg


# --- test data


def make_article(article_id: str, text: str, title: str | None = None, source: str | None = None) -> Article:
    return Article(id=article_id, title=title, text=text, source=source, published=date(2024, 5, 1))


def sentence_spans(text: str, offset: int = 0) -> tuple[Span, ...]:
    """Naive sentence spans (absolute offsets): enough for test texts without abbreviations."""
    return tuple(
        Span(m.start() + offset, m.end() + offset) for m in re.finditer(r"[^\s].*?[.!?](?=\s|$)", text)
    )


def make_hits(articles: Sequence[Article]) -> list[Hit]:
    """One hit per article, ranked in order; the chunk is the text after the first blank line, if any.

    Starting chunks after a header paragraph makes their offsets non-zero, as in real stores.
    """
    hits = []
    for rank, a in enumerate(articles, start=1):
        cut = a.text.find("\n\n")
        start = cut + 2 if cut >= 0 else 0
        body = a.text[start:]
        chunk = Chunk(
            id=Chunk.make_id(a.id, 0),
            article_id=a.id,
            n=0,
            text=body,
            start=start,
            end=len(a.text),
            title=a.title,
            source=a.source,
            published=a.published,
            sentences=sentence_spans(body, start),
        )
        hits.append(Hit(chunk=chunk, rank=rank, score=1.0 / rank))
    return hits
