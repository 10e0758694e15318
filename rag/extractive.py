"""Text checks the extractive answerer shares: a question's topical terms, and whether a
sentence holds the kind of thing the question asks for (a number, a date, a name, a place)."""

from __future__ import annotations

import re

from rag.lexical import english_stopwords, terms

# Words that carry the question's form, not its topic.
_QUESTION_STOP = set(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "many",
        "much",
        "did",
        "does",
        "do",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "according",
        "say",
        "said",
        "tell",
        "told",
        "give",
        "gave",
        "besides",
        "other",
        "about",
        "there",
        "their",
        "they",
        "them",
        "its",
        "it",
        "this",
        "that",
        "these",
        "those",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "one",
        "ones",
        "kind",
        "type",
    ]
)
NUMBER_RE = re.compile(
    r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|hundreds|thousand|thousands|million|millions|dozen|dozens)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(19|20)\d\d\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d|\b\d{1,2}\s+"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|\b(monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|yesterday|today|last (week|month|year)|overnight)\b",
    re.I,
)
NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z\u00C0-\u024F’'-]+(?:\s+[A-Z][a-z\u00C0-\u024F’'-]+)*")


# The frame of a broad question ("what happened in X", "what do the articles say about X"):
# words that ask for an overview, not the topic to find.
_BROAD_FRAME = frozenset(
    [
        "happen",
        "happens",
        "happened",
        "happening",
        "going",
        "situation",
        "news",
        "latest",
        "update",
        "updates",
        "recent",
        "recently",
        "article",
        "articles",
        "report",
        "reports",
        "reported",
        "source",
        "sources",
        "outlet",
        "outlets",
        "say",
        "says",
        "said",
        "tell",
        "overview",
        "summary",
        "summarise",
        "summarize",
        "develop",
        "developed",
        "development",
        "developments",
        "timeline",
        "unfold",
        "unfolded",
        "evolve",
        "evolved",
        "new",
    ]
)


# News reports one event in several words: "died", "were killed", "the death toll". Terms of one
# group match each other when a question is compared with a sentence (stemmed forms). Kept to
# the quantities news counts, where a miss answers with the wrong figure (docs/evals.md).
_GROUPS = (
    "death die dead kill fatal toll bodi perish",
    "injur injuri wound hurt",
    "evacu evacue displac fled homeless",
    "arrest detain custodi",
    "damag destroy destruct",
    "strike walkout",
)
CANON: dict[str, str] = {t: g.split()[0] for g in _GROUPS for t in g.split()}


def canon(terms_: list[str] | set[str] | frozenset[str]) -> set[str]:
    """Stemmed terms with every synonym group folded into its first member."""
    return {_family(CANON.get(t, t)) for t in terms_}


def _family(stem: str) -> str:
    """A stem cut to its first five letters: 'evacue' (evacuees) and 'evacu' (evacuated) meet."""
    return stem[:5] if stem.isalpha() else stem


def question_terms(question: str, broad: bool = False) -> list[str]:
    """The topical terms of a question: stopwords and question-form words dropped before stemming
    (and, for a broad question, the words that ask for an overview)."""
    stop = english_stopwords() | _QUESTION_STOP | (_BROAD_FRAME if broad else frozenset())
    qt = terms(question, frozenset(stop))
    return list(dict.fromkeys(qt)) or terms(question)


def type_ok(kind: str | None, sentence: str, question: str) -> bool:
    if kind == "number":
        return bool(NUMBER_RE.search(sentence))
    if kind == "date":
        return bool(_DATE.search(sentence))
    if kind in ("name", "place"):
        asked = question.lower()
        return any(m.group().lower() not in asked for m in NAME_RE.finditer(sentence))
    return False
