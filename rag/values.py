"""The value a sentence gives for what the question asks (a figure, a date, a name), and the pool
of sentences that answer it: what the date-aware stages and conflict detection compare.

>>> value_of("The death toll rose to 26 on Friday, officials said.", "number", "What is the death toll?")
'26'
>>> value_of("Officials counted 11,500 displaced people by March 5, 2025.", "number", "How many people were displaced?")
'11,500'
>>> value_of("The dam failed on March 3, 2025, after days of rain.", "date", "When did the dam fail?")
'2025-03-03'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from rag.dates import find_date_exprs, parse_date_expr
from rag.evidence import Evidence, Sentence
from rag.extractive import NAME_RE
from rag.lexical import terms

_NUM = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d,])|(?<![\w.,])\d+(?:\.\d+)?(?![\d])")
_WORDNUM = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|dozens?)\b",
    re.I,
)
_WORD = re.compile(r"\w+")


def answering(ev: Evidence, share: float = 0.5, limit: int = 12) -> list[Sentence]:
    """Sentences that answer the question about as well as the best one (p >= share * best p)."""
    if not ev.sentences:
        return []
    best = ev.sentences[0].p
    return [s for s in ev.sentences[:limit] if s.p >= share * best and s.feature("type_missing") == 0.0]


def value_of(text: str, answer_type: str | None, question: str, ref: date | None = None) -> str | None:
    """The sentence's value for the question's slot, normalised; None when it gives none (or several
    equally placed). Numbers that are years, dates or already in the question are not values.
    `ref` (the article's date) places a day named without a year."""
    if answer_type == "number":
        return _number(text, question)
    if answer_type == "date":
        return _date(text, question, ref)
    if answer_type in ("name", "place"):
        asked = question.lower()
        names = [m.group() for m in NAME_RE.finditer(text) if m.group().lower() not in asked]
        return names[0] if len(set(names)) == 1 else None
    return None


def _date(text: str, question: str, ref: date | None) -> str | None:
    days: set[str] = set()
    years: set[str] = set()
    for m in find_date_exprs(text):
        expr = m.group()
        if re.fullmatch(r"\d{4}", expr):
            if expr not in question:
                years.add(expr)
            continue
        d = parse_date_expr(expr, ref=ref, end_of_period=False)
        has_day = bool(re.search(r"(?<!\d)\d{1,2}(?!\d)", expr))
        if d is None:
            days.add(expr.lower())
        else:
            days.add(d.isoformat() if has_day else f"{d.year}-{d.month:02d}")
    found = days or years
    return next(iter(found)) if len(found) == 1 else None


def _number(text: str, question: str) -> str | None:
    dated = {m.start() for m in find_date_exprs(text)} | {
        i for m in find_date_exprs(text) for i in range(m.start(), m.end())
    }
    asked = set(_NUM.findall(question))
    cands = [m for m in _NUM.finditer(text) if m.start() not in dated and m.group() not in asked]
    cands = [m for m in cands if not (re.fullmatch(r"(1[5-9]|20)\d{2}", m.group()))]
    words = [m for m in _WORDNUM.finditer(text) if m.group().lower() not in question.lower()]
    if len(cands) + len(words) == 0:
        return None
    if len(cands) == 1 and not words:
        return cands[0].group()
    if not cands and len(words) == 1:
        return words[0].group().lower()
    # Several figures: the one closest to a word of the question ("toll rose to 26").
    qterms = set(terms(question))
    anchors = [m.start() for m in _WORD.finditer(text) if terms(m.group()) and terms(m.group())[0] in qterms]
    if not anchors:
        return None
    scored = sorted((min(abs(m.start() - a) for a in anchors), m.group()) for m in [*cands, *words])
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        return None
    return scored[0][1].lower()


def distinct(values: Sequence[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
