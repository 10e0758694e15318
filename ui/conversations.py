"""Conversations that outlast a reload and a restart: one SQLite file in the data directory.

Every read and write names its owner (a login name, or the random id a browser keeps in its
localStorage); a conversation of another owner is treated as absent, so an id alone reads nothing.

>>> # store = ConversationStore(settings.data_dir / "conversations.sqlite")
>>> # cid = store.create("user:alice", "Who is Viktor Trehubov?")
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from rag.types import Answer
from ui.answer_json import answer_from_json

Exchange = tuple[str, Answer]  # (question, answer): one finished turn of the conversation

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated);
CREATE TABLE IF NOT EXISTS exchanges (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, n INTEGER NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY (conversation_id, n)
);
"""
TITLE_CHARS = 60


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    updated: float
    turns: int


def title_for(question: str) -> str:
    """A conversation's default title: its first question, shortened at a word boundary."""
    q = " ".join(question.split())
    if len(q) <= TITLE_CHARS:
        return q or "New conversation"
    return q[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"


class ConversationStore:
    """Thread-safe (Gradio runs handlers in worker threads): one connection behind a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def create(self, owner: str, title: str) -> str:
        cid = uuid.uuid4().hex
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO conversations VALUES (?,?,?,?,?)", (cid, owner, title_for(title), now, now)
            )
        return cid

    def list_for(self, owner: str) -> list[ConversationInfo]:
        """The owner's conversations, most recently used first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.title, c.updated, COUNT(e.n) FROM conversations c"
                " LEFT JOIN exchanges e ON e.conversation_id = c.id WHERE c.owner = ?"
                " GROUP BY c.id ORDER BY c.updated DESC",
                (owner,),
            ).fetchall()
        return [ConversationInfo(r[0], r[1], r[2], r[3]) for r in rows]

    def owns(self, owner: str, cid: str | None) -> bool:
        if not cid:
            return False
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND owner = ?", (cid, owner)
            ).fetchone()
        return row is not None

    def title(self, owner: str, cid: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT title FROM conversations WHERE id = ? AND owner = ?", (cid, owner)
            ).fetchone()
        return row[0] if row else None

    def load(self, owner: str, cid: str | None) -> list[Exchange] | None:
        """The exchanges of one of the owner's conversations; None when it is not theirs or not there."""
        if not self.owns(owner, cid):
            return None
        with self._lock:
            rows = self._db.execute(
                "SELECT question, answer FROM exchanges WHERE conversation_id = ? ORDER BY n", (cid,)
            ).fetchall()
        return [(q, answer_from_json(json.loads(a))) for q, a in rows]

    def append(self, owner: str, cid: str, question: str, answer: Answer) -> bool:
        """Add a finished exchange; False (nothing written) when the conversation is not the owner's."""
        if not self.owns(owner, cid):
            return False
        data = json.dumps(answer.to_json(), ensure_ascii=False, default=str)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (n,) = self._db.execute(
                    "SELECT COUNT(*) FROM exchanges WHERE conversation_id = ?", (cid,)
                ).fetchone()
                self._db.execute("INSERT INTO exchanges VALUES (?,?,?,?)", (cid, n, question, data))
                self._db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (time.time(), cid))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return True

    def rename(self, owner: str, cid: str | None, title: str) -> bool:
        title = " ".join((title or "").split())[:120]
        if not title or not cid:
            return False
        with self._lock:
            cur = self._db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?", (title, cid, owner)
            )
        return cur.rowcount == 1

    def delete(self, owner: str, cid: str | None) -> bool:
        if not cid:
            return False
        with self._lock:
            cur = self._db.execute("DELETE FROM conversations WHERE id = ? AND owner = ?", (cid, owner))
        return cur.rowcount == 1
