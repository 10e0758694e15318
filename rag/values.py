"""The value a sentence gives for what the question asks (a figure, a date, a name), and the pool
of sentences that answer it: what the date-aware stages and conflict detection compare.

>>> value_of("The death toll rose to 26 on Friday, officials said.", "number", "What is the death toll?")
'26'
>>> value_of("Priests say 31 people died, five more than the official toll.", "number", "What is the death toll?")
'31 people'
>>> value_of("Damage is estimated at about 95 million euros.", "number", "How much damage?")
'95 million euros'
>>> value_of("About 2,400 residents were evacuated overnight.", "number", "How many were evacuated?")
'2,400 residents'
>>> value_of("The toll rose to 31 across the region.", "number", "What is the toll?")
'31'
>>> value_of("The dam failed on March 3, 2025, after days of rain.", "date", "When did the dam fail?")
'2025-03-03'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from rag.dates import find_date_exprs, parse_date_expr
from rag.evidence import Evidence, Sentence
from rag.extractive import NAME_RE, canon
from rag.lexical import terms

_NUM = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d,])|(?<![\w.,])\d+(?:\.\d+)?(?![\d])")
_WORDNUM = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|dozens?)\b",
    re.I,
)
_WORD = re.compile(r"\w+")


ANSWERING_MARGIN = 2.0  # sentence-model score below the best one that still counts as answering


def answering(ev: Evidence, margin: float = ANSWERING_MARGIN, limit: int = 12) -> list[Sentence]:
    """Sentences that answer the question nearly as well as the best one (their sentence-model
    score within `margin` of the best), and hold the kind of thing asked for."""
    if not ev.sentences:
        return []
    best = ev.sentences[0].score
    return [s for s in ev.sentences[:limit] if s.score >= best - margin and s.feature("type_missing") == 0.0]


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


_RELATIVE = re.compile(
    r"\s+(more|fewer|less|times|higher|lower|up|down|per ?cent (more|fewer)|percent (more|fewer))\b", re.I
)
_SCALE = {"million", "billion", "thousand", "hundred", "percent", "per"}


def _number(text: str, question: str) -> str | None:
    """The figure the sentence gives: not a date, a year, a figure from the question, or a
    difference ("five more than the official toll"); the one nearest a question word when several."""
    in_dates = {i for m in find_date_exprs(text) for i in range(m.start(), m.end())}
    asked = set(_NUM.findall(question)) | {w.lower() for w in _WORDNUM.findall(question)}
    found = [m for m in (*_NUM.finditer(text), *_WORDNUM.finditer(text))
             if m.start() not in in_dates and m.group().lower() not in asked
             and not re.fullmatch(r"(1[5-9]|20)\d{2}", m.group()) and not _RELATIVE.match(text, m.end())]  # fmt: skip
    if not found:
        return None
    if len(found) == 1:
        return _with_unit(text, found[0])
    # Several figures: the one closest to a word of the question ("toll rose to 26").
    qterms = canon(terms(question))
    anchors = [m.start() for m in _WORD.finditer(text) if canon(terms(m.group())) & qterms]
    if not anchors:
        return None
    scored = sorted((min(abs(m.start() - a) for a in anchors), i) for i, m in enumerate(found))
    if scored[0][0] == scored[1][0]:
        return None
    return _with_unit(text, found[scored[0][1]])


def _with_unit(text: str, m: re.Match[str]) -> str:
    """'26', '95 million euros', '30 percent', '80 firefighters': the figure with its scale words and
    the unit or counted noun after it (a measure word, or any plural noun: 'residents', 'drivers')."""
    words = _WORD.findall(text[m.end() : m.end() + 40])
    out = [m.group().lower()]
    for w in words[:3]:
        lw = w.lower()
        if lw in _SCALE or (lw in ("cent",) and out[-1] == "per"):
            out.append(lw)
            continue
        if lw in _UNITS or (w.isalpha() and w.islower() and _PLURAL.fullmatch(lw) and lw not in _NOT_NOUNS):
            out.append(lw)
        break
    return " ".join(out)


_UNITS = frozenset({"metres", "meters", "kilometres", "kilometers", "km", "miles", "euros", "dollars", "pounds",
                    "percent", "tonnes", "tons", "hectares", "acres", "people", "children", "men", "women"})  # fmt: skip
_PLURAL = re.compile(r"[a-z]{2,}[a-rt-z](?<![iu])s")  # "residents", not "across", "status", "this"
_NOT_NOUNS = frozenset({"was", "has", "is", "as", "its", "this", "his", "hers", "ours", "yours", "theirs",
                        "always", "sometimes", "perhaps", "besides", "towards", "afterwards", "whereas"})  # fmt: skip


_WORD_VALUES = {w: i for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"])} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12, "dozens": 24}  # fmt: skip
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}


def magnitude(value: str) -> float | None:
    """'95 million euros' -> 95e6, 'nine' -> 9; None when the value is not a figure."""
    words = value.split()
    head = words[0].replace(",", "") if words else ""
    try:
        x = float(head)
    except ValueError:
        if head not in _WORD_VALUES:
            return None
        x = float(_WORD_VALUES[head])
    for w in words[1:]:
        x *= _SCALES.get(w, 1.0)
    return x


def comparable(a: str, b: str) -> bool:
    """Whether two figures can be rival values of one quantity: the same unit (or none given),
    and within a factor of three (a toll of 26 against 31; not a dam of 62 metres against a wave
    of four)."""
    if unit_of(a) not in (unit_of(b), None) and unit_of(b) is not None:
        return False
    ma, mb = magnitude(a), magnitude(b)
    if ma is None or mb is None or min(ma, mb) <= 0:
        return True
    return max(ma, mb) / min(ma, mb) <= 3.0


def unit_of(value: str) -> str | None:
    """The unit a value carries ('95 million euros' -> 'euros'), None for a bare figure."""
    words = value.split()[1:]
    words = [w for w in words if w not in _SCALE and w != "cent"]
    return words[-1] if words else None


def distinct(values: Sequence[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
