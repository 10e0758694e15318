"""Question files: JSONL, one question a line, validated with errors that name file, line and field."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import RagError

QUESTION_TYPES = ("who", "what", "when", "where", "how many", "why", "other", "unanswerable")

# Checked in this order against each word of the question: the first wh-word decides, so
# "According to X, what did ..." is a "what" question. "which" asks for an entity like "what".
_WH = {
    "who": "who",
    "whom": "who",
    "whose": "who",
    "what": "what",
    "which": "what",
    "when": "when",
    "where": "where",
    "why": "why",
}
_WORD = re.compile(r"[a-z]+")


class QuestionFileError(RagError):
    """A question file has a bad line. Seen by whoever wrote the file (`rag eval`)."""


@dataclass(frozen=True)
class Question:
    """One eval question; `key_facts` entries may hold alternatives separated by '|'."""

    id: str
    question: str
    answer: str = ""
    key_facts: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    answerable: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def type(self) -> str:
        """The question's type for breakdowns (see `question_type`)."""
        return question_type(self.question, self.answerable)

    @property
    def kind(self) -> str | None:
        """The set's own label for what the question tests ("latest", "as_of", "conflict"...), if any."""
        kind = self.extra.get("kind")
        return kind if isinstance(kind, str) else None

    @property
    def wrong_answers(self) -> tuple[str, ...]:
        """Values planted by false passages (RAMDocs): an answer must not assert them."""
        return tuple(self.extra.get("wrong_answers") or ())

    @property
    def conflict_values(self) -> tuple[str, ...]:
        """Values that the answer's `conflicts` must report (every one of them)."""
        return tuple(self.extra.get("conflict_values") or ())


def question_type(text: str, answerable: bool = True) -> str:
    """Type from the first wh-word; unanswerable questions form their own group.

    >>> question_type("According to the ministry, what did the strikes target?")
    'what'
    >>> question_type("How many drones were shot down?")
    'how many'
    >>> question_type("Is it raining?"), question_type("Who won?", answerable=False)
    ('other', 'unanswerable')
    """
    if not answerable:
        return "unanswerable"
    words = _WORD.findall(text.lower())
    for i, word in enumerate(words):
        if word == "how":
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if nxt in ("many", "much"):
                return "how many"
            return "other"
        if word in _WH:
            return _WH[word]
    return "other"


def load_questions(path: Path) -> list[Question]:
    """Read and validate a question file; raises QuestionFileError naming file, line and field."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise QuestionFileError(f"{path}: cannot read question file: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise QuestionFileError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    out: list[Question] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        q = parse_question(line, f"{path}:{lineno}")
        if q.id in seen:
            raise QuestionFileError(
                f"{path}:{lineno}: field 'id': duplicate id {q.id!r} (first on line {seen[q.id]})"
            )
        seen[q.id] = lineno
        out.append(q)
    if not out:
        raise QuestionFileError(f"{path}: no questions in file")
    return out


def parse_question(line: str, where: str) -> Question:
    """Parse one JSONL line; `where` ("file:line") prefixes every error message."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as e:
        raise QuestionFileError(f"{where}: invalid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(raw, dict):
        raise QuestionFileError(f"{where}: expected a JSON object, got {type(raw).__name__}")

    def bad(name: str, want: str) -> QuestionFileError:
        return QuestionFileError(f"{where}: field {name!r} must be {want}, got {raw.get(name)!r}")

    for name in ("id", "question"):
        if name not in raw:
            raise QuestionFileError(f"{where}: missing required field {name!r}")
        if not isinstance(raw[name], str) or not raw[name].strip():
            raise bad(name, "a non-empty string")
    answer = raw.get("answer", "")
    if answer is None:
        answer = ""
    if not isinstance(answer, str):
        raise bad("answer", "a string")
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("key_facts", "sources"):
        value = raw.get(name, [])
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise bad(name, "a list of non-empty strings")
        lists[name] = tuple(value)
    answerable = raw.get("answerable", True)
    if not isinstance(answerable, bool):
        raise bad("answerable", "true or false")
    if not answerable and lists["key_facts"]:
        raise bad("key_facts", "empty when 'answerable' is false")
    for name in ("wrong_answers", "conflict_values"):
        value = raw.get(name)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise bad(name, "a list of non-empty strings")
    for name in ("ambiguous", "conflict"):
        if name in raw and not isinstance(raw[name], bool):
            raise bad(name, "true or false")
    if "kind" in raw and (not isinstance(raw["kind"], str) or not raw["kind"].strip()):
        raise bad("kind", 'a non-empty string such as "latest" or "factoid"')
    if "doc_labels" in raw and not isinstance(raw["doc_labels"], dict):
        raise bad("doc_labels", "an object mapping passage ids to labels")
    known = {"id", "question", "answer", "key_facts", "sources", "answerable"}
    return Question(
        id=raw["id"],
        question=raw["question"],
        answer=answer,
        key_facts=lists["key_facts"],
        sources=lists["sources"],
        answerable=answerable,
        extra={k: v for k, v in raw.items() if k not in known},
    )
