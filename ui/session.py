"""Who is asking, and their conversations: the handlers behind the side list, without Gradio.

A user is their login name when the UI has a login, else the random id their browser keeps in
localStorage (Gradio's BrowserState, encrypted with a secret kept in the data directory so that it
survives a restart of `rag serve`).
"""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.settings import Settings
from rag.types import Answer, ArticleInfo
from ui import render
from ui.chat import ChatService
from ui.conversations import ConversationStore, Exchange

EXAMPLE_CHARS = 70


def owner_of(username: str | None, browser_id: str | None) -> str | None:
    """The owner key of a request: the login name wins; None for an anonymous API caller."""
    if username:
        return f"user:{username}"
    if browser_id:
        return f"browser:{browser_id}"
    return None


def new_browser_id() -> str:
    return uuid.uuid4().hex


def browser_secret(data_dir: Path) -> str:
    """The BrowserState encryption secret, created once per data directory (mode 0600)."""
    path = data_dir / "ui-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)
        return value
    except OSError:
        return secrets.token_urlsafe(24)  # a read-only data dir: conversations still work until restart


def example_questions(infos: list[ArticleInfo], n: int = 3) -> list[str]:
    """Questions built from the titles of the most recent titled articles; none for an empty index."""
    titled = [a for a in infos if a.title]
    titled.sort(key=lambda a: (a.published is not None, a.published, a.id), reverse=True)
    out: list[str] = []
    for a in titled:
        t = " ".join((a.title or "").split()).rstrip(".?!")
        if len(t) > EXAMPLE_CHARS:
            t = t[:EXAMPLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        q = f"What do the articles say about {t}?"
        if q not in out:
            out.append(q)
        if len(out) == n:
            break
    return out


@dataclass(frozen=True)
class View:
    """What the Ask tab shows for one conversation."""

    conversation_id: str | None
    exchanges: list[Exchange]
    messages: list[dict[str, str]]
    sources: str
    trace: str
    title: str


class Conversations:
    """Open, list, rename, delete and append to a user's conversations."""

    def __init__(self, store: ConversationStore, chat: ChatService) -> None:
        self.store = store
        self.chat = chat

    @classmethod
    def for_settings(cls, settings: Settings, chat: ChatService) -> Conversations:
        return cls(ConversationStore(settings.data_dir / "conversations.sqlite"), chat)

    def choices(self, owner: str | None) -> list[tuple[str, str]]:
        if owner is None:
            return []
        return [(c.title, c.id) for c in self.store.list_for(owner)]

    def view(self, owner: str | None, cid: str | None) -> View:
        """The conversation `cid` if it is the owner's; else an empty new conversation."""
        exchanges = self.store.load(owner, cid) if owner and cid else None
        if exchanges is None:
            s, t = self.chat.sources_for([])
            return View(None, [], [], s, t, "")
        s, t = self.chat.sources_for(exchanges)
        title = self.store.title(owner, cid) if owner and cid else None
        messages = render.chat_messages(exchanges, self.chat.settings.linkify_urls)
        return View(cid, exchanges, messages, s, t, title or "")

    def latest(self, owner: str | None) -> View:
        choices = self.choices(owner)
        return self.view(owner, choices[0][1] if choices else None)

    def record(self, owner: str | None, cid: str | None, question: str, answer: Answer) -> str | None:
        """Store a finished exchange, starting a conversation when there is none; returns its id."""
        if owner is None:
            return cid
        if not cid or not self.store.owns(owner, cid):
            cid = self.store.create(owner, question)
        self.store.append(owner, cid, question, answer)
        return cid

    def rename(self, owner: str | None, cid: str | None, title: str) -> str:
        if owner is None or not cid:
            return "Open a conversation first."
        if not (title or "").strip():
            return "Type a new name first."
        return (
            "Renamed."
            if self.store.rename(owner, cid, title)
            else "That conversation is not yours or is gone."
        )

    def delete(self, owner: str | None, cid: str | None) -> str:
        if owner is None or not cid:
            return "Open a conversation first."
        return (
            "Conversation deleted."
            if self.store.delete(owner, cid)
            else "That conversation is not yours or is gone."
        )

    def exports(self, owner: str | None, cid: str | None, exchanges: list[Exchange]) -> tuple[Any, Any]:
        title = self.store.title(owner, cid) if owner and cid else None
        return self.chat.exports(exchanges, title)
