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
        for s, e in tokenizer.span_tokenize(line_text):
            s, e = _trim(line_text, s, e)
            if e > s:
                spans.extend(_cap(line.start() + s, line.start() + e, text))
    return spans


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
