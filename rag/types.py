"""The data that flows between stages: Article -> Chunk -> Hit -> Citation/Answer.

All frozen: a stage never mutates what an earlier stage produced.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Support = Literal["supported", "unsupported", "quoted"]


@dataclass(frozen=True)
class Article:
    """One article, as read from a file or a JSONL line.

    `text` is the whole body, never truncated; header lines that were parsed into fields
    (date, title, byline, ...) are not repeated in it, but footers stay in it so they remain
    searchable. Values that the input does not state are None: nothing is invented.
    """

    id: str
    title: str | None
    text: str
    source: str | None = None
    published: date | None = None
    language: str | None = None
    url: str | None = None
    path: str | None = None
    content_hash: str = ""
    byline: str | None = None
    section: str | None = None
    # Other facts parsed from the file (e.g. {"bias_rating": "Center", "ai_generated": "true",
    # "tags": "Russia Ukraine"}). Values are strings so they fit Chroma metadata.
    extra: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Span:
    """A half-open character span [start, end) inside Article.text."""

    start: int
    end: int


@dataclass(frozen=True)
class InjectionFlag:
    """A sentence of an article that addresses the reader or an AI (rag.injection): data, never an
    instruction. [start, end) are absolute offsets into Article.text."""

    start: int
    end: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "reason": self.reason}


@dataclass(frozen=True)
class Chunk:
    """A contiguous passage of an article: article.text[start:end] == text."""

    id: str  # f"{article_id}:{n}" -- deterministic, so re-ingestion upserts
    article_id: str
    n: int
    text: str
    start: int
    end: int
    title: str | None = None
    source: str | None = None
    published: date | None = None
    language: str | None = None
    # Sentence spans as absolute offsets into Article.text, computed once at ingest.
    sentences: tuple[Span, ...] = ()
    # Sentences that read as instructions to the reader or an AI, flagged at ingest.
    injection: tuple[InjectionFlag, ...] = ()

    @staticmethod
    def make_id(article_id: str, n: int) -> str:
        return f"{article_id}:{n}"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with every score that ranked it."""

    chunk: Chunk
    rank: int  # 1-based, after fusion
    score: float  # the fused score that produced `rank`
    dense: float | None = None  # cosine similarity, when the dense retriever found it
    lexical: float | None = None  # BM25 score, when the lexical retriever found it
    dense_rank: int | None = None
    lexical_rank: int | None = None
    sentence: float | None = None  # cosine of the chunk's best-matching sentence, when computed

    def to_json(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "article_id": c.article_id,
            "chunk_id": c.id,
            "rank": self.rank,
            "score": self.score,
            "dense": self.dense,
            "lexical": self.lexical,
            "dense_rank": self.dense_rank,
            "lexical_rank": self.lexical_rank,
            "sentence": self.sentence,
            "start": c.start,
            "end": c.end,
            "title": c.title,
            "source": c.source,
            "published": c.published.isoformat() if c.published else None,
            "text": c.text,
            "injection": [f.to_json() for f in c.injection],
        }


@dataclass(frozen=True)
class Citation:
    """Marker [n] -> an exact span of a stored article; quote == article.text[start:end]."""

    n: int
    article_id: str
    chunk_id: str
    start: int
    end: int
    quote: str
    title: str | None
    source: str | None
    published: date | None
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["published"] = self.published.isoformat() if self.published else None
        return d


@dataclass(frozen=True)
class AnswerSentence:
    text: str  # extractive: the exact quoted span; LLM: the generated sentence
    citations: tuple[int, ...]
    # "quoted" for extractive sentences (verbatim by construction); "supported"/"unsupported"
    # for generated sentences after verification; None where nothing was checked.
    support: Support | None = None
    reason: str | None = None  # why a sentence was labelled unsupported
    # Where the sentence stands in time: its (first) cited article's date and outlet. Presentation
    # only: the rendered answer shows them as a prefix, `text` stays the exact span.
    published: date | None = None
    source: str | None = None
    label: str | None = None  # e.g. "latest", "earlier", "as of 8 Mar 2025": how a stage placed it
    # Why the quoted sentence was flagged as an instruction (rag.injection), when it was; it is then
    # quoted only because the question asks about it.
    flagged: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "support": self.support,
            "reason": self.reason,
            "published": self.published.isoformat() if self.published else None,
            "source": self.source,
            "label": self.label,
            "flagged": self.flagged,
        }


@dataclass(frozen=True)
class ConflictValue:
    """One of the values that sources give for the same thing, with who gives it and when."""

    value: str
    citations: tuple[int, ...]
    source: str | None
    published: date | None

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "citations": list(self.citations),
            "source": self.source,
            "published": self.published.isoformat() if self.published else None,
        }


@dataclass(frozen=True)
class Conflict:
    """Sources that disagree about one quantity or slot (a toll, a name, a place, a date)."""

    about: str
    values: tuple[ConflictValue, ...]
    kind: str = "disagreement"  # or "ambiguous": one name, several entities

    def to_json(self) -> dict[str, Any]:
        return {"about": self.about, "kind": self.kind, "values": [v.to_json() for v in self.values]}


@dataclass(frozen=True)
class Trace:
    """Why the answer is what it is: what was searched, what came back, how long each stage took."""

    question: str
    query: str  # the query as searched (after follow-up rewriting)
    hits: tuple[Hit, ...]
    settings: dict[str, Any]
    timings_ms: dict[str, float]
    filters: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    plan: dict[str, Any] = field(default_factory=dict)  # the QueryPlan the question became
    steps: tuple[dict[str, Any], ...] = ()  # answerer and post-answer stages, in order, with timings

    @property
    def flagged(self) -> list[dict[str, Any]]:
        """Retrieved passages holding sentences flagged as instructions (text is data, not orders)."""
        return [
            {"rank": h.rank, "chunk_id": h.chunk.id, "sentences": [f.to_json() for f in h.chunk.injection]}
            for h in self.hits
            if h.chunk.injection
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "query": self.query,
            "hits": [h.to_json() for h in self.hits],
            "settings": self.settings,
            "timings_ms": self.timings_ms,
            "filters": self.filters,
            "notes": list(self.notes),
            "plan": self.plan,
            "steps": list(self.steps),
            "flagged": self.flagged,
        }


@dataclass(frozen=True)
class Answer:
    text: str  # sentences joined, each followed by its [n] markers
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    abstained: bool
    confidence: float
    trace: Trace
    mode: str = "extractive"  # or the LLM backend's name
    # When abstaining: the closest passages, shown as "not an answer".
    closest: tuple[Citation, ...] = ()
    notice: str | None = None  # e.g. "LLM backend unreachable; extractive answer shown"
    conflicts: tuple[Conflict, ...] = ()  # empty when the evidence agrees
    lead: str | None = None  # a line before the sentences, e.g. "As of 8 Mar 2025:"
    layout: str = "prose"  # or "timeline": one line per date, oldest first

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "abstained": self.abstained,
            "confidence": self.confidence,
            "mode": self.mode,
            "notice": self.notice,
            "lead": self.lead,
            "layout": self.layout,
            "citations": [c.to_json() for c in self.citations],
            "sentences": [s.to_json() for s in self.sentences],
            "conflicts": [c.to_json() for c in self.conflicts],
            "closest": [c.to_json() for c in self.closest],
            "trace": self.trace.to_json(),
        }


@dataclass(frozen=True)
class Filters:
    """Metadata filters applied to both retrievers."""

    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    # Articles without a date never answer a date-bound question unless the user keeps them.
    keep_undated: bool = False

    @property
    def empty(self) -> bool:
        return not (self.since or self.until or self.sources or self.languages or self.article_ids)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "sources": list(self.sources),
            "languages": list(self.languages),
            "article_ids": list(self.article_ids),
            "keep_undated": self.keep_undated,
        }


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation, for follow-up rewriting."""

    question: str
    answer: str = ""


@dataclass(frozen=True)
class AnswerEvent:
    """One step of a streamed answer: text to append, and on the last event the whole Answer.

    The last event's `answer.text` is authoritative: it replaces the streamed deltas (an LLM's
    invalid markers are removed there, and a mid-stream failure falls back to extractive).
    """

    delta: str
    answer: Answer | None = None


# Ingest results live in rag.ingest_types; re-exported here for existing imports.
from rag.ingest_types import ArticleInfo, FileStatus, FileStatusName, IngestReport  # noqa: E402, F401
