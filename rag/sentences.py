"""Sentence spans with exact character offsets.

Used at ingest (sentence boundaries are stored with each chunk) and for generated text.
Lines are split first, so bullets, headings and footer lines are sentences of their own;
inside a line, NLTK's English Punkt model (bundled with llama-index-core) finds the sentences.

>>> text = "Kupiansk is under fire. Mr. Trehubov said so.\\n  • A bullet"
>>> [text[s.start:s.end] for s in split_sentences(text)]
['Kupiansk is under fire.', 'Mr. Trehubov said so.', '• A bullet']
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from rag.types import Span

_LINE = re.compile(r"[^\n]+")
# Punkt misses breaks before a closing quote run or after a quote; these keep spans tight.
_MAX_SENTENCE_CHARS = 1200


@functools.lru_cache(maxsize=1)
def _punkt() -> Any:
    import importlib.util

    import nltk.data
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTokenizer

    # Locate llama-index's bundled NLTK data without importing llama_index.core (~4 s).
    spec = importlib.util.find_spec("llama_index.core")
    origin = spec.origin if spec and spec.origin else "."
    cache = Path(origin).parent / "_static" / "nltk_cache"

    if str(cache) not in nltk.data.path:
        nltk.data.path.append(str(cache))
    try:
        return PunktTokenizer("english")
    except LookupError:  # no trained model: llama-index's own default, untrained Punkt
        return PunktSentenceTokenizer()


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of text[start:end], as absolute offsets into `text`, whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    tokenizer = _punkt()
    for line in _LINE.finditer(text, start, end):
        line_text = line.group()
        pieces = [_trim(line_text, s, e) for s, e in tokenizer.span_tokenize(line_text)]
        for s, e in _joined(line_text, [(s, e) for s, e in pieces if e > s]):
            spans.extend(_cap(line.start() + s, line.start() + e, text))
    return spans


# Punkt (trained on news, but not on these) ends sentences after "No." before a number, after
# "St." before a name, and inside a quotation that spans sentences. Measured on the eval sets:
# "Building No. | 4 of the plant", "St . | Marks School", "\"We will rebuild. | Every house,\" …".
_ABBREV_END = re.compile(
    r"\b(no|nos|nr|st|mt|ft|fig|vol|gen|gov|sen|rep|lt|col|sgt|capt|cpl|pvt|adm|prof|dr|mr|mrs|ms|jr|sr|vs|approx"
    r"|est|dept|univ|ave|blvd|rd|inc|ltd|corp|co|u\.s|u\.k|e\.g|i\.e)\s?\.$",
    re.I,
)
_QUOTES = {'"': '"', "“": "”"}
_MAX_QUOTE_JOIN = 600


def _joined(line: str, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Punkt's sentences with wrong breaks undone: after an abbreviation followed by a number or a
    name, and inside a quotation whose closing mark comes within the next three sentences."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(pieces):
        s, e = pieces[i]
        starts_on = line[s : s + 1].isdigit() or line[s : s + 1].isupper()
        if out and starts_on and _ABBREV_END.search(line[out[-1][0] : out[-1][1]]):
            out[-1] = (out[-1][0], e)
            i += 1
            continue
        if _open_quote(line[s:e]):
            for j in range(i + 1, min(i + 4, len(pieces))):
                end = pieces[j][1]
                if end - s > _MAX_QUOTE_JOIN:
                    break
                if not _open_quote(line[s:end]):
                    e, i = end, j
                    break
        out.append((s, e))
        i += 1
    return out


def _open_quote(text: str) -> bool:
    """Whether `text` leaves a quotation open (curly quotes counted by kind, straight ones by parity)."""
    return text.count("“") > text.count("”") or text.count('"') % 2 == 1


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _cap(s: int, e: int, text: str) -> list[Span]:
    """Very long 'sentences' (tables, lists without punctuation) are cut at spaces."""
    out: list[Span] = []
    while e - s > _MAX_SENTENCE_CHARS:
        cut = text.rfind(" ", s, s + _MAX_SENTENCE_CHARS)
        cut = cut if cut > s else s + _MAX_SENTENCE_CHARS
        out.append(Span(s, cut))
        s = cut
        while s < e and text[s].isspace():
            s += 1
    if e > s:
        out.append(Span(s, e))
    return out
