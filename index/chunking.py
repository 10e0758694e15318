"""Sentence-aware chunks with exact character offsets into Article.text.

Chunks are packed from the exact sentence spans of `rag.sentences` (sizes counted in the
embedding model's own tokens), so `article.text[chunk.start:chunk.end] == chunk.text` holds by
construction, repeated passages included. (llama-index's SentenceSplitter, used before, only
returns chunk strings; locating them again with `str.find` put repeated passages at their first
occurrence and left the end of such articles in no chunk.) A sentence longer than a chunk is cut
at spaces; only a single word longer than a chunk makes a chunk over the size. Sentence spans
inside each chunk are computed here, once, so that answering never has to split text at query time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.injection import flag_sentences
from rag.sentences import split_sentences
from rag.types import Article, Chunk, Span

TokenCounter = Callable[[str], int]
BatchTokenCounter = Callable[[Sequence[str]], list[int]]

_WORD = re.compile(r"\S+")
# Words as the tokenizer sees them: Python's \s also matches \x1c-\x1f, which BERT's normalizer
# deletes as control characters instead of splitting at them ("0\x1f0" is one word to it).
_TOKENIZER_WORD = re.compile(r"(?:\S|[\x1c-\x1f])+")
# Sentence ends (Latin, CJK, Devanagari, Arabic) and line breaks: what the sentence splitter cuts at.
_BOUNDARY = re.compile(r"[.!?\n\u2026\u3002\uff01\uff1f\u0964\u061f\u06d4]")
# Prose has a sentence end every few hundred characters; 20,000 without one (~3,000 words) is a
# data dump, minified text or a table flattened to one line, and would become hundreds of chunks
# of word runs that answer nothing.
MAX_UNBROKEN_CHARS = 20_000
_APPROX_TOKEN = re.compile(r"\w+|[^\w\s]")


def _approx_tokens(text: str) -> int:
    """Words and punctuation marks: a stand-in when no model tokenizer is given."""
    return len(_APPROX_TOKEN.findall(text))


@dataclass(frozen=True)
class Splitter:
    """Packs whole sentences into chunks of at most `chunk_size` tokens, `chunk_overlap` shared."""

    chunk_size: int
    chunk_overlap: int
    count_tokens: TokenCounter
    # Counts many texts in one call. One tokenizer call per sentence made chunking 14.5 s of a
    # 2,000-article ingest (0.06 ms a call, ~135k calls), competing with the model for the 2 cores;
    # one batch per article for the sentences and one for the chunks is ~5x cheaper.
    count_many: BatchTokenCounter | None = None
    # True when the tokenizer never makes a token across whitespace (BERT's WordPiece): then the
    # tokens of sentences joined by whitespace are the sum of theirs, and chunks need no recount.
    additive: bool = False

    def _counts(self, texts: Sequence[str]) -> list[int]:
        if self.count_many is not None:
            return self.count_many(texts)
        return [self.count_tokens(t) for t in texts]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every chunk of `text`, in order."""
        return [(s, e) for s, e, _ in self.plan(text)]

    def plan(self, text: str) -> list[tuple[int, int, list[tuple[int, int]]]]:
        """Every chunk as (start, end, its sentence spans); sentences are split once per article."""
        units, counts = self._units(text)
        fast = self._pack(text, units, counts, check=False)
        # Packing adds up unit counts. Recount the chunks where that may be wrong (in one batch):
        # all of them unless the tokenizer is additive, else those with two units not separated by
        # whitespace (a hard cut inside a 1,200-character word). Pack chunk by chunk if one is over.
        unsure = [
            text[s:e]
            for s, e, u in fast
            if len(u) > 1 and (not self.additive or any(a[1] == b[0] for a, b in zip(u, u[1:], strict=False)))
        ]
        if all(n <= self.chunk_size for n in self._counts(unsure)):
            return fast
        return self._pack(text, units, counts, check=True)

    def _pack(
        self, text: str, units: list[tuple[int, int]], counts: list[int], check: bool
    ) -> list[tuple[int, int, list[tuple[int, int]]]]:
        out: list[tuple[int, int, list[tuple[int, int]]]] = []
        i = 0
        while i < len(units):
            j, total = i, counts[i]
            while j + 1 < len(units) and total + counts[j + 1] <= self.chunk_size:
                j += 1
                total += counts[j]
            while check and j > i and self.count_tokens(text[units[i][0] : units[j][1]]) > self.chunk_size:
                j -= 1
            out.append((units[i][0], units[j][1], units[i : j + 1]))
            if j + 1 >= len(units):
                break
            i = self._next_start(i, j, counts)
        return out

    def _next_start(self, i: int, j: int, counts: list[int]) -> int:
        """First unit of the chunk after units i..j: j+1, or earlier units shared as overlap."""
        k, shared = j + 1, 0
        while (
            k - 1 > i
            and shared + counts[k - 1] <= self.chunk_overlap
            and shared + counts[k - 1] + counts[j + 1] <= self.chunk_size
        ):
            k -= 1
            shared += counts[k]
        return k

    def _units(self, text: str) -> tuple[list[tuple[int, int]], list[int]]:
        """Sentence spans and their token counts; a sentence longer than a chunk is cut into runs
        of whole words."""
        sentences = split_sentences(text)
        sizes = self._counts([text[s.start : s.end] for s in sentences])
        units: list[tuple[int, int]] = []
        counts: list[int] = []
        for sent, size in zip(sentences, sizes, strict=True):
            if size <= self.chunk_size:
                units.append((sent.start, sent.end))
                counts.append(size)
                continue
            first = len(units)
            if self.additive:
                self._cut_additive(text, sent.start, sent.end, units, counts)
                continue
            start = end = -1
            for w in _WORD.finditer(text, sent.start, sent.end):
                if start < 0:
                    start, end = w.start(), w.end()
                elif self.count_tokens(text[start : w.end()]) <= self.chunk_size:
                    end = w.end()
                else:
                    units.append((start, end))
                    start, end = w.start(), w.end()
            if start >= 0:
                units.append((start, end))
            counts.extend(self._counts([text[s:e] for s, e in units[first:]]))
        return units, counts

    def _cut_additive(
        self, text: str, start: int, end: int, units: list[tuple[int, int]], counts: list[int]
    ) -> None:
        """Cut text[start:end] into runs of whole words of at most chunk_size tokens, counting each
        word once (one batch call): with an additive tokenizer a run's count is the sum of its
        words'. Recounting the growing run at every word tokenized each character ~40 times, so a
        5 MB text without punctuation took minutes before embedding began."""
        words = [(w.start(), w.end()) for w in _TOKENIZER_WORD.finditer(text, start, end)]
        run_start = run_end = -1
        total = 0
        for (a, b), n in zip(words, self._counts([text[a:b] for a, b in words]), strict=True):
            if run_start >= 0 and total + n <= self.chunk_size:
                run_end, total = b, total + n
                continue
            if run_start >= 0:
                units.append((run_start, run_end))
                counts.append(total)
            run_start, run_end, total = a, b, n
        if run_start >= 0:
            units.append((run_start, run_end))
            counts.append(total)


def make_splitter(
    chunk_size: int,
    chunk_overlap: int,
    count_tokens: TokenCounter | None,
    count_many: BatchTokenCounter | None = None,
    additive: bool = False,
) -> Splitter:
    """A sentence packer that measures size in the embedding model's tokens."""
    if count_tokens is None:
        return Splitter(chunk_size, chunk_overlap, _approx_tokens)
    return Splitter(chunk_size, chunk_overlap, count_tokens, count_many, additive)


def size_problem(text: str, max_chars: int) -> str | None:
    """Why an article's text is not chunked (skipped, with this reason), or None. Linear time.

    Text without sentence boundaries is named as such first: raising the size cap would not make
    it worth indexing."""
    last = longest = 0
    for m in _BOUNDARY.finditer(text):
        longest = max(longest, m.start() - last)
        last = m.end()
    longest = max(longest, len(text) - last)
    if longest > MAX_UNBROKEN_CHARS:
        return (
            f"{longest:,} characters without a sentence boundary (. ! ? or a line break), over "
            f"{MAX_UNBROKEN_CHARS:,}: not prose (a data dump or minified text?)"
        )
    if len(text) > max_chars:
        return (
            f"article is {len(text):,} characters, over the {max_chars:,}-character limit "
            "(RAG_MAX_ARTICLE_CHARS or --max-article-chars raise it)"
        )
    return None


def chunk_article(article: Article, splitter: Splitter) -> list[Chunk]:
    """Split one article into chunks whose text is exactly article.text[start:end]."""
    text = article.text
    plans = splitter.plan(text)
    # Each sentence is checked once, though overlapping chunks share some.
    spans = sorted({Span(a, b) for _, _, sentences in plans for a, b in sentences}, key=lambda s: s.start)
    flags = {(f.start, f.end): f for f in flag_sentences(text, 0, spans)}
    return [
        Chunk(
            id=Chunk.make_id(article.id, n),
            article_id=article.id,
            n=n,
            text=text[start:end],
            start=start,
            end=end,
            title=article.title,
            source=article.source,
            published=article.published,
            language=article.language,
            sentences=tuple(Span(a, b) for a, b in sentences),
            injection=tuple(flags[(a, b)] for a, b in sentences if (a, b) in flags),
        )
        for n, (start, end, sentences) in enumerate(plans)
    ]


def embedding_text(chunk: Chunk, with_context: bool) -> tuple[str, int]:
    """What is embedded for a chunk, and the offset of the chunk text inside it.

    Title and date give the model context; they are never part of the stored span. (Dropping the
    date saved ~4% of ingest time but cost dev-06 its top-1 passage: an article with a date and no
    title lost its only context. The eval gate caught it.)
    """
    if not with_context:
        return chunk.text, 0
    parts = [p for p in (chunk.title, chunk.published.isoformat() if chunk.published else None) if p]
    prefix = (". ".join(parts) + ". ") if parts else ""
    return prefix + chunk.text, len(prefix)


def sentence_spans_in(chunk: Chunk, offset: int) -> list[tuple[int, int]]:
    """Sentence spans relative to the embedded text (for late pooling of sentence vectors)."""
    return [(s.start - chunk.start + offset, s.end - chunk.start + offset) for s in chunk.sentences]


def span_text(article_text: str, span: Span) -> str:
    return article_text[span.start : span.end]
