"""Answer-quality metrics that need no LLM: pure functions, each with a worked example."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Typographic variants that news text and hand-written key facts mix freely.
_CHAR_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00ad": "",  # a soft hyphen is invisible: drop it
    }
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Metric:
    """A metric's value next to the count it was computed over; `skipped` says why value is None."""

    value: float | None
    n: int
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": self.value, "n": self.n}
        if self.skipped:
            d["skipped"] = self.skipped
        return d


def normalise(text: str) -> str:
    """Casefold, straighten quotes and dashes, collapse whitespace.

    >>> normalise("  “Roses  on the\\nHand” — Kupiansk’s ")
    '"roses on the hand" - kupiansk\\'s'
    """
    text = unicodedata.normalize("NFKC", text).translate(_CHAR_MAP)
    return _SPACE.sub(" ", text).strip().casefold()


def fact_present(fact: str, text: str) -> bool:
    """Whether `text` states `fact`; `a|b` accepts either form.

    A match must start at a word boundary; it may end mid-word so that stems match
    ("drone" in "drones"), except after a digit, so that "21" does not match "210".

    >>> fact_present("Roses on the Hand", "The “ROSES ON THE  HAND” team")
    True
    >>> fact_present("river|body of water", "a wide body of water"), fact_present("drone", "drones")
    (True, True)
    >>> fact_present("21", "210 drones"), fact_present("21", "shot down 21."), fact_present("war", "toward")
    (False, True, False)
    """
    hay = normalise(text)
    for alt in fact.split("|"):
        needle = normalise(alt)
        if not needle:
            continue
        left = r"(?<!\w)" if needle[0].isalnum() else ""
        right = r"(?!\d)" if needle[-1].isdigit() else ""
        if re.search(left + re.escape(needle) + right, hay):
            return True
    return False


def missing_facts(facts: Sequence[str], text: str) -> list[str]:
    """The key facts that `text` does not state.

    >>> missing_facts(["21", "49"], "They shot down 21 drones.")
    ['49']
    """
    return [f for f in facts if not fact_present(f, text)]


def key_fact_recall(facts: Sequence[str], text: str) -> float | None:
    """Share of key facts stated in `text`; None when there are no facts to find.

    >>> key_fact_recall(["21", "49"], "21 of the 49 drones"), key_fact_recall(["21", "49"], "21 drones")
    (1.0, 0.5)
    >>> key_fact_recall([], "anything") is None
    True
    """
    if not facts:
        return None
    return 1 - len(missing_facts(facts, text)) / len(facts)


def all_facts_present(facts: Sequence[str], text: str) -> bool:
    """Accuracy of one answer: every key fact is stated.

    >>> all_facts_present(["21", "49"], "21 of the 49 drones"), all_facts_present(["21", "49"], "21 drones")
    (True, False)
    """
    return not missing_facts(facts, text)


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 when any of the first k ranked items is relevant.

    >>> hit_at_k([False, True, False], 1), hit_at_k([False, True, False], 2)
    (0.0, 1.0)
    """
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    """1 / rank of the first relevant item (ranks from 1); 0.0 when none is relevant.

    >>> reciprocal_rank([False, False, True]), reciprocal_rank([False])
    (0.3333333333333333, 0.0)
    """
    for i, rel in enumerate(relevant, start=1):
        if rel:
            return 1.0 / i
    return 0.0


def article_recall_at_k(ranked_articles: Sequence[str], sources: Sequence[str], k: int) -> float | None:
    """Share of the source articles that appear among the first k hits; None without sources.

    >>> article_recall_at_k(["a", "c", "b"], ["a", "b"], 2), article_recall_at_k(["a"], [], 5)
    (0.5, None)
    """
    if not sources:
        return None
    top = set(ranked_articles[:k])
    return sum(1 for s in set(sources) if s in top) / len(set(sources))


def passage_relevance(
    passages: Sequence[tuple[str, str]], facts: Sequence[str], sources: Sequence[str]
) -> list[bool]:
    """Per (article_id, text) passage: does it state a key fact (and come from a source, when given)?

    The source condition keeps a generic fact ("drone") in an unrelated article from counting.

    >>> passage_relevance([("x", "21 drones"), ("a", "21 drones"), ("a", "none")], ["21"], ["a"])
    [False, True, False]
    """
    wanted = set(sources)
    return [
        (not wanted or art in wanted) and any(fact_present(f, text) for f in facts) for art, text in passages
    ]


def passage_recall_at_k(
    passages: Sequence[tuple[str, str]], facts: Sequence[str], sources: Sequence[str], k: int
) -> float | None:
    """Share of key facts stated by at least one of the first k passages (from a source, when given).

    >>> passage_recall_at_k([("a", "21 drones"), ("a", "of 49")], ["21", "49"], ["a"], 1)
    0.5
    """
    if not facts:
        return None
    wanted = set(sources)
    texts = [text for art, text in passages[:k] if not wanted or art in wanted]
    return sum(1 for f in facts if any(fact_present(f, t) for t in texts)) / len(facts)


def citation_resolves(quote: str, start: int, end: int, article_text: str | None) -> bool:
    """A citation resolves when the stored article's text[start:end] equals its quote exactly.

    >>> citation_resolves("Hand", 10, 14, "Roses on the Hand"), citation_resolves("Hand", 9, 13, "Roses on the Hand")
    (False, False)
    >>> citation_resolves("Hand", 13, 17, "Roses on the Hand"), citation_resolves("x", 0, 1, None)
    (True, False)
    """
    if article_text is None or not 0 <= start <= end <= len(article_text):
        return False
    return article_text[start:end] == quote


def rate(flags: Iterable[bool | None]) -> Metric:
    """Share of True among the flags that are not None.

    >>> rate([True, False, None, True])
    Metric(value=0.6666666666666666, n=3, skipped=None)
    >>> rate([]).value is None
    True
    """
    kept = [f for f in flags if f is not None]
    return Metric(sum(kept) / len(kept) if kept else None, len(kept))


def mean(values: Iterable[float | None]) -> Metric:
    """Mean of the values that are not None.

    >>> mean([1.0, 0.5, None])
    Metric(value=0.75, n=2, skipped=None)
    """
    kept = [v for v in values if v is not None]
    return Metric(sum(kept) / len(kept) if kept else None, len(kept))


def abstention_precision(abstained: Sequence[bool], answerable: Sequence[bool]) -> Metric:
    """Of the questions abstained on, the share that were truly unanswerable.

    >>> abstention_precision([True, True, False], [False, True, True])
    Metric(value=0.5, n=2, skipped=None)
    """
    return rate(not ans for ab, ans in zip(abstained, answerable, strict=True) if ab)


def abstention_recall(abstained: Sequence[bool], answerable: Sequence[bool]) -> Metric:
    """Of the unanswerable questions, the share abstained on.

    >>> abstention_recall([True, False, False], [False, False, True])
    Metric(value=0.5, n=2, skipped=None)
    """
    return rate(ab for ab, ans in zip(abstained, answerable, strict=True) if not ans)


def false_abstention_rate(abstained: Sequence[bool], answerable: Sequence[bool]) -> Metric:
    """Of the answerable questions, the share abstained on (lower is better).

    >>> false_abstention_rate([True, False, False, True], [True, True, True, False])
    Metric(value=0.3333333333333333, n=3, skipped=None)
    """
    return rate(ab for ab, ans in zip(abstained, answerable, strict=True) if ans)


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100), interpolating linearly between ranks; None for no values.

    >>> percentile([10.0, 20.0, 30.0, 40.0], 50), percentile([10.0, 20.0, 30.0, 40.0], 95)
    (25.0, 38.5)
    >>> percentile([], 50) is None
    True
    """
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
