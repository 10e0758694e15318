"""The query plan: the question interpreted once, then passed down to retrieval, answering and stages.

Nothing downstream re-parses the question: what it asks about (kind, answer type), which dates
bind it (latest, as of, since, an event period) and what is searched are decided here.

>>> p = build_plan("What was the death toll as of March 8?", corpus_dates=(date(2025, 3, 1), date(2025, 3, 20)))
>>> p.kind, p.answer_type, p.dates.as_of, p.filters.until, p.search_text
('as_of', 'number', datetime.date(2025, 3, 8), datetime.date(2025, 3, 8), 'What was the death toll?')
>>> build_plan("How did the flood develop?").kind, build_plan("Do the outlets agree on the toll?").kind
('timeline', 'comparison')
>>> q = build_plan("Who owned the castle from 1369 to 1420?")
>>> q.kind, q.dates.period, q.filters.until
('factoid', (1369, 1420), None)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from rag.dates import DATE_EXPR, parse_date_expr, years_in
from rag.followup import rewrite
from rag.types import Filters, Turn

QuestionKind = Literal["factoid", "overview", "latest", "as_of", "timeline", "comparison"]
KINDS: tuple[str, ...] = ("factoid", "overview", "latest", "as_of", "timeline", "comparison")

_LATEST = re.compile(
    r"\b((the\s+)?(very\s+)?latest|(the\s+)?most recent(ly)?|(the\s+)?newest|recent(ly)?|now|currently|current"
    r"|today|so far|to date|at present|as it stands)\b",
    re.I,
)
_AS_OF = re.compile(rf"\b(as of|as at|by|until|up to|through|before)\s+(?:the end of\s+)?({DATE_EXPR})", re.I)
_SINCE = re.compile(rf"\b(since|after)\s+({DATE_EXPR})", re.I)
_TIMELINE = re.compile(
    r"\btimeline\b|\bchronolog|\bsequence of events\b|\bover time\b|\bwhat (?:has |have )?happened\b.{0,60}\bsince\b"
    r"|\bhow (?:did|has|have|do|does)\b.{0,80}?\b(develop|unfold|evolve|change|progress|escalate|grow|rise)",
    re.I,
)
_COMPARISON = re.compile(
    r"\b(do|does|did|are|were)\b.{0,40}\b(sources|outlets|reports|articles|accounts|papers|media|figures|numbers)\b"
    r".{0,60}\b(agree|disagree|differ|conflict|contradict|match|consistent)"
    r"|\b(which|what) (sources|outlets|reports|papers)\b.{0,40}\b(disagree|differ|contradict|conflict)"
    r"|\bconflicting (reports|accounts|figures|numbers|claims)\b|\bdiscrepanc|\bcompare\b|\bcomparison\b",
    re.I,
)
_OVERVIEW = re.compile(
    r"^\W*(and\s+)?(what|tell me)\b.{0,30}?\b(happen(ed|ing|s)|going on|the situation|the news|new)\b"
    r"|\bwhat do (the )?(articles|sources|reports|outlets|papers|stories) (say|report|tell)\b"
    r"|\btell me about\b|\b(summar(y|ise|ize)|overview|brief me|key (facts|points|developments))\b"
    r"|^\W*what('s| is) (the latest|new)\b(\s+(news|updates?|developments?))?\W*((on|in|about|from|at|with)\b|$)"
    r"|^\W*(any|the) (latest )?(news|updates?)\b",
    re.I,
)


@dataclass(frozen=True)
class DateIntent:
    """Which dates bind the question.

    `latest`, `as_of` and `since` are about publication dates (news time); `period` is the span
    of years the question asks about in the events themselves ("from 2001 to 2002").
    """

    latest: bool = False
    as_of: date | None = None
    since: date | None = None
    period: tuple[int, int] | None = None

    @property
    def prefer_recent(self) -> bool:
        return self.latest or self.as_of is not None

    @property
    def bound(self) -> bool:
        """Bound to publication dates: undated articles cannot answer it."""
        return self.latest or self.as_of is not None or self.since is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "latest": self.latest,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "since": self.since.isoformat() if self.since else None,
            "period": list(self.period) if self.period else None,
        }


@dataclass(frozen=True)
class QueryPlan:
    """One question, interpreted: what to search, what kind of answer, which dates and filters."""

    question: str  # as asked
    query: str  # as searched: the standalone question (follow-ups rewritten)
    search_text: str  # what the retrievers get: the query without its time words
    kind: QuestionKind
    answer_type: str | None  # 'number', 'date', 'name', 'place' or None
    broad: bool  # asks for an overview ("what happened…"), not one fact
    dates: DateIntent
    filters: Filters  # the user's filters with the question's date bounds applied
    k: int
    mode: str = "extractive"
    history: tuple[Turn, ...] = ()
    user_filters: Filters | None = None
    quote: str | None = None  # a passage the question quotes ("which article says '…'?"), 4+ words

    @property
    def rewritten(self) -> bool:
        return self.query != self.question

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "query": self.query,
            "search_text": self.search_text,
            "kind": self.kind,
            "answer_type": self.answer_type,
            "broad": self.broad,
            "dates": self.dates.to_json(),
            "filters": self.filters.to_json(),
            "k": self.k,
            "mode": self.mode,
            "quote": self.quote,
        }


def answer_type(question: str) -> str | None:
    """What kind of thing the question wants: 'number', 'date', 'name', 'place' or None."""
    q = question.lower()
    if re.search(
        r"\bhow (many|much|long|far|often|old|large|big|high|tall|deep|wide|heavy|fast)\b|\bwhat (number|percentage|share|proportion)\b"
        r"|\b(population|toll|casualt|number of|amount of|size of|figures?|total|count|cost|price|percent)",
        q,
    ):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (year|date|day|month|time)\b|\bsince when\b", q):
        return "date"
    if re.search(r"\bwhere\b|\bwhich (city|town|village|region|country|place|border city)\b", q):
        return "place"
    if re.search(
        r"\bwho(m|se)?\b|\bwhich (person|official|team|group|organi[sz]ation|unit|outlet|volunteer)", q
    ):
        return "name"
    return None


def build_plan(
    question: str,
    history: Sequence[Turn] | None = None,
    filters: Filters | None = None,
    *,
    k: int = 5,
    mode: str = "extractive",
    corpus_dates: tuple[date | None, date | None] | None = None,
) -> QueryPlan:
    """Interpret `question` (in the context of `history`) once.

    `corpus_dates` is the (oldest, newest) publication date in the index: it places a day named
    without a year, and when nothing in the index is dated, publication-date words ("as of 2005")
    become an event period instead of a filter that would exclude every article.
    """
    question = " ".join(question.split())
    query = rewrite(question, history)
    quote = _quote(query)
    # A quoted passage is text to find, not the asker's own words: its dates bind nothing.
    frame = query.replace(quote, " ") if quote else query
    newest = corpus_dates[1] if corpus_dates else None
    dated_corpus = corpus_dates is None or newest is not None
    latest = bool(_LATEST.search(frame))
    as_of = since = None
    m = _AS_OF.search(frame)
    if m:
        as_of = parse_date_expr(m.group(2), ref=newest)
        if as_of and m.group(1).lower() == "before":
            as_of -= timedelta(days=1)
    s = _SINCE.search(frame)
    if s:
        since = parse_date_expr(s.group(2), ref=newest, end_of_period=False)
    consumed = " ".join(x.group(0) for x in (m, s) if x is not None)
    period_years = [y for y in years_in(frame) if str(y) not in consumed]
    if not dated_corpus:  # publication bounds cannot apply: the years become an event period
        period_years += [d.year for d in (as_of, since) if d]
        latest, as_of, since = False, None, None
    period = (min(period_years), max(period_years)) if period_years else None
    dates = DateIntent(latest=latest, as_of=as_of, since=since, period=period)

    base = filters or Filters()
    applied = dataclasses.replace(
        base,
        until=base.until or as_of,
        since=base.since or since,
    )
    kind = _kind(frame, dates)
    broad = bool(_OVERVIEW.search(frame)) or kind == "timeline"
    return QueryPlan(
        question=question,
        query=query,
        search_text=query if quote == query else _strip_time_words(query, quote),
        kind=kind,
        answer_type=answer_type(frame),
        broad=broad,
        dates=dates,
        filters=applied,
        k=k,
        mode=mode,
        history=tuple(history or ()),
        user_filters=filters,
        quote=quote,
    )


_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]+)[\"“”«»]")


_ASKS = re.compile(
    r"^\W*(who|whom|whose|what|which|when|where|why|how|is|are|was|were|do|does|did|can|could|will|would|has"
    r"|have|had|should|tell|give|list|show|find|summari[sz]e|describe|explain|compare|name)\b",
    re.I,
)


def _quote(question: str) -> str | None:
    """The passage a question quotes: the longest quoted run of 4+ words, or a pasted statement
    of 10+ words that asks nothing (no question mark, no question word) taken whole."""
    quotes = [q.strip() for q in _QUOTED.findall(question) if len(q.split()) >= 4]
    if quotes:
        return max(quotes, key=len)
    if "?" not in question and not _ASKS.match(question) and len(question.split()) >= 10:
        return question
    return None


def _kind(query: str, dates: DateIntent) -> QuestionKind:
    if _TIMELINE.search(query):
        return "timeline"
    if _COMPARISON.search(query):
        return "comparison"
    if dates.as_of is not None:
        return "as_of"
    if dates.latest:
        return "latest"
    if _OVERVIEW.search(query):
        return "overview"
    return "factoid"


def _strip_time_words(query: str, keep: str | None = None) -> str:
    """The query without its time words ('latest' asks for recency, it is not a topic to match);
    a quoted passage `keep` stays as it is."""
    if keep:
        head, _, tail = query.partition(keep)
        return f"{_strip_time_words(head)} {keep} {_strip_time_words(tail)}".strip() if head or tail else keep
    stripped = _LATEST.sub(" ", _SINCE.sub(" ", _AS_OF.sub(" ", query)))
    stripped = re.sub(r"\s+([?.!,])", r"\1", " ".join(stripped.split()))
    return stripped if len(re.sub(r"\W", "", stripped)) >= 3 else query
