"""Dates in questions and in article text: parsing loose expressions, and formatting for answers.

>>> parse_date_expr("March 8", ref=date(2025, 3, 20))
datetime.date(2025, 3, 8)
>>> parse_date_expr("2024-01-15"), parse_date_expr("March 2024")
(datetime.date(2024, 1, 15), datetime.date(2024, 3, 31))
>>> years_in("from 2001 to 2002, and in 1990s")
[2001, 2002]
>>> day_label(date(2025, 3, 14)), day_label(None)
('14 Mar 2025', 'undated')
"""

from __future__ import annotations

import re
from datetime import date, datetime

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}  # fmt: skip
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
# One date expression: ISO, "March 8(, 2025)", "8 March( 2025)", "March 2025", a bare year.
DATE_EXPR = (
    r"(?:\d{4}-\d{2}-\d{2}"
    rf"|{_MONTH}\s+\d{{1,2}}(?!\d)(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|(?<!\d)\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+\d{{4}}"
    r"|(?:1\d|20)\d{2}(?!\d))"
)
_DATE_RE = re.compile(DATE_EXPR, re.I)
_YEAR_RE = re.compile(r"(?<![\d,.-])(1\d{3}|20\d{2})(?!\d|-\d|s\b|,\d)")


def parse_date_expr(text: str, ref: date | None = None, end_of_period: bool = True) -> date | None:
    """A date from one expression; a month or year alone means its last day (or first, if not
    `end_of_period`). A day without a year takes the year of `ref` (a year earlier if that would
    put it more than a month after `ref`); without `ref` it cannot be placed and gives None."""
    t = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text.strip().lower().replace(",", " ").replace(".", " "))
    t = re.sub(r"\bof\b", " ", t)
    words = t.split()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        try:
            return datetime.strptime(text.strip(), "%Y-%m-%d").date()
        except ValueError:
            return None
    month = next((_MONTHS[w] for w in words if w in _MONTHS), None)
    nums = [int(w) for w in words if w.isdigit()]
    year = next((n for n in nums if n >= 1000), None)
    day = next((n for n in nums if n < 100), None)
    try:
        if month and day:
            if year is None:
                if ref is None:
                    return None
                year = ref.year
                if date(year, month, day).toordinal() - ref.toordinal() > 31:
                    year -= 1
            return date(year, month, day)
        if month and year:
            if not end_of_period:
                return date(year, month, 1)
            nxt = date(year + (month == 12), month % 12 + 1, 1)
            return date.fromordinal(nxt.toordinal() - 1)
        if year and not month:
            return date(year, 12, 31) if end_of_period else date(year, 1, 1)
    except ValueError:
        return None
    return None


def find_date_exprs(text: str) -> list[re.Match[str]]:
    """Every date expression in `text`, left to right."""
    return list(_DATE_RE.finditer(text))


def years_in(text: str) -> list[int]:
    """Four-digit years (1000-2099) mentioned in `text`, in order, without repeats."""
    return list(dict.fromkeys(int(y) for y in _YEAR_RE.findall(text)))


def day_label(d: date | None) -> str:
    """'14 Mar 2025', or 'undated'."""
    return f"{d.day} {d.strftime('%b')} {d.year}" if d else "undated"


def short_day(d: date | None, ref: date | None = None) -> str:
    """'14 Mar' when `ref` is in the same year, else '14 Mar 2025'; 'undated' for None."""
    if d is None:
        return "undated"
    return f"{d.day} {d.strftime('%b')}" if ref is not None and ref.year == d.year else day_label(d)
