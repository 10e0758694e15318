"""Sentence-aware chunking: exact character offsets, full coverage, sizes in the model's own tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from index.chunking import Splitter, chunk_article, embedding_text, make_splitter, sentence_spans_in
from rag.embedding import Embedder, load_embedder
from rag.sentences import split_sentences
from rag.settings import Settings
from rag.types import Article, Chunk

CHUNK_SIZE = 32  # small, so short generated texts still make several chunks


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(Settings.from_env({}))


@pytest.fixture(scope="module")
def splitter(embedder: Embedder) -> Splitter:
    """As ingestion builds it: tokens counted a batch at a time, chunks not recounted."""
    return _batched(embedder, 0)


def _batched(embedder: Embedder, overlap: int) -> Splitter:
    assert embedder.tokens_split_at_whitespace, "MiniLM's WordPiece never makes a token across a space"
    return make_splitter(
        CHUNK_SIZE, overlap, embedder.token_counter(), embedder.count_tokens_many, additive=True
    )


def _article(text: str, title: str | None = "A title", published: date | None = date(2024, 3, 1)) -> Article:
    return Article(id="art", title=title, text=text, published=published, content_hash="h")


def _check_invariants(text: str, chunks: list[Chunk], embedder: Embedder, chunk_size: int) -> None:
    """Every property a chunking of `text` must have."""
    # exact spans
    for c in chunks:
        assert text[c.start : c.end] == c.text, (c.start, c.end, c.text)
        assert c.text.strip(), "no empty or whitespace-only chunk"
        assert c.id == f"art:{c.n}"
    # in order, numbered 0..n-1
    assert [c.n for c in chunks] == list(range(len(chunks)))
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.start < b.start and a.end <= b.end, (a.start, a.end, b.start, b.end)
    # cover every non-whitespace character
    covered = [False] * len(text)
    for c in chunks:
        for i in range(c.start, c.end):
            covered[i] = True
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, f"characters not in any chunk: {[text[i] for i in missing[:10]]}"
    # sentence spans lie inside their chunk
    for c in chunks:
        for s in c.sentences:
            assert c.start <= s.start < s.end <= c.end, (c.start, c.end, s)
    # sizes: at most chunk_size model tokens, unless the chunk is one sentence too long to fit
    for c in chunks:
        n = embedder.count_tokens(c.text)
        if n > chunk_size:
            assert len(c.sentences) <= 1, (n, c.text)


# Text made of pieces that stress a sentence splitter: unicode, newlines, bullets, repeats.
_PIECES = st.one_of(
    st.text(min_size=0, max_size=40),
    st.sampled_from(
        [
            "The council met on Monday. ",
            "The council met on Monday. ",  # repeated sentences must not confuse offsets
            "Mr. Smith said prices rose 3.5% in Q1.\n",
            "\n\n",
            "  • A bullet point about élan and café\n",
            "- another bullet\n",
            "Привет, мир! Это тест.\n",
            "东京的天气很好。我们去公园吧。",
            "\t \u00a0",
            "Emoji 🎉🎉 are here!? ",
            "word " * 30,
            "averyveryveryveryveryveryveryverylongwordwithoutanyspacesatallinsideit" * 3,
            '"Quoted," she said. "Another quote." ',
            "\r\n",
        ]
    ),
)
TEXTS = st.lists(_PIECES, min_size=1, max_size=25).map("".join)


@pytest.fixture(scope="module")
def overlap_splitter(embedder: Embedder) -> Splitter:
    return _batched(embedder, 10)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, overlap=st.sampled_from([0, 10]))
@example(text="averyveryveryveryveryveryveryverylongwordwithoutanyspacesatallinsideit" * 3, overlap=0)
@example(text="word " * 30 + "The council met on Monday. " * 5, overlap=10)
@example(text="ab" * 700 + " end.", overlap=0)  # a hard cut inside a 1,400-character word
def test_batch_counting_chunks_exactly_as_counting_one_text_at_a_time(
    text: str, overlap: int, embedder: Embedder
) -> None:
    one_by_one = make_splitter(CHUNK_SIZE, overlap, embedder.token_counter())
    batched = make_splitter(CHUNK_SIZE, overlap, embedder.token_counter(), embedder.count_tokens_many)
    assert batched.plan(text) == one_by_one.plan(text)
    assert _batched(embedder, overlap).plan(text) == one_by_one.plan(text)


def test_batch_counts_equal_single_counts(embedder: Embedder) -> None:
    texts = ["Kupiansk is under fire.", "", "  • A bullet", "Привет, мир!", "x" * 300]
    assert embedder.count_tokens_many(texts) == [embedder.count_tokens(t) for t in texts]
    assert embedder.count_tokens_many([]) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, overlap=st.booleans())
@example(text="The council met on Monday. " * 40, overlap=False)
@example(text="The council met on Monday. " * 40, overlap=True)
@example(text="  \n  leading whitespace. Then text.\n\n  • bullet\n", overlap=False)
@example(text="x", overlap=True)
@example(text="\n\n\n", overlap=False)
def test_chunks_are_exact_ordered_covering_spans(
    text: str,
    overlap: bool,
    splitter: Splitter,
    overlap_splitter: Splitter,
    embedder: Embedder,
) -> None:
    chunks = chunk_article(_article(text), overlap_splitter if overlap else splitter)
    if not text.strip():
        assert chunks == []
        return
    assert chunks, "a non-blank text gives at least one chunk"
    _check_invariants(text, chunks, embedder, CHUNK_SIZE)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(min_size=1, max_size=600))
def test_arbitrary_unicode_text_keeps_exact_offsets(
    text: str, splitter: Splitter, embedder: Embedder
) -> None:
    chunks = chunk_article(_article(text), splitter)
    _check_invariants(text, chunks, embedder, CHUNK_SIZE)
    assert bool(chunks) == bool(text.strip())


def test_long_article_makes_many_chunks_within_size(embedder: Embedder) -> None:
    text = "\n\n".join(
        " ".join(f"Paragraph {p} sentence {s} mentions the harbour of Zorblax{p}." for s in range(8))
        for p in range(20)
    )
    splitter = make_splitter(64, 0, embedder.token_counter())
    chunks = chunk_article(_article(text), splitter)
    assert len(chunks) >= 10
    assert max(embedder.count_tokens(c.text) for c in chunks) <= 64
    _check_invariants(text, chunks, embedder, 64)
    # sentence-aware: no chunk starts or ends in the middle of a sentence
    sentences = split_sentences(text)
    bounds_start = {s.start for s in sentences}
    bounds_end = {s.end for s in sentences}
    assert all(c.start in bounds_start and c.end in bounds_end for c in chunks)


def test_overlap_gives_overlapping_spans_and_size_is_configurable(embedder: Embedder) -> None:
    text = " ".join(f"Sentence number {i} is about the quarry at Velmont." for i in range(60))
    plain = chunk_article(_article(text), make_splitter(64, 0, embedder.token_counter()))
    overlapped = chunk_article(_article(text), make_splitter(64, 24, embedder.token_counter()))
    bigger = chunk_article(_article(text), make_splitter(256, 0, embedder.token_counter()))
    assert all(a.end <= b.start for a, b in zip(plain, plain[1:], strict=False)), "no overlap by default"
    overlaps = [a.end - b.start for a, b in zip(overlapped, overlapped[1:], strict=False)]
    assert len(overlaps) >= 3 and all(o > 0 for o in overlaps), overlaps
    assert len(overlapped) > len(plain) > len(bigger) >= 2
    for c in overlapped:
        assert text[c.start : c.end] == c.text
    assert max(embedder.count_tokens(c.text) for c in bigger) <= 256


def test_title_and_date_are_embedded_but_never_stored(embedder: Embedder) -> None:
    body = "Officials opened the new Quimbleton bridge. Traffic flowed at once."
    art = _article(body, title="Bridge opens", published=date(2024, 3, 5))
    [chunk] = chunk_article(art, make_splitter(128, 0, embedder.token_counter()))
    assert chunk.text == body and (chunk.start, chunk.end) == (0, len(body))
    text, offset = embedding_text(chunk, with_context=True)
    assert text.startswith("Bridge opens. 2024-03-05. ")
    assert text[offset:] == chunk.text and "Bridge opens" not in chunk.text
    # sentence spans are shifted onto the embedded text, and still cut out the same sentences
    for (s, e), span in zip(sentence_spans_in(chunk, offset), chunk.sentences, strict=True):
        assert text[s:e] == body[span.start : span.end]
    assert embedding_text(chunk, with_context=False) == (body, 0)
    untitled = chunk_article(_article(body, title=None, published=None), make_splitter(128, 0, None))[0]
    assert embedding_text(untitled, with_context=True) == (body, 0)


def test_same_text_always_gives_the_same_chunks(splitter: Splitter) -> None:
    text = "One sentence here. " * 50 + "\n\n• a bullet\n" + "Another one there. " * 30
    first = chunk_article(_article(text), splitter)
    again = chunk_article(_article(text), splitter)
    assert first == again and len(first) > 3


def _counting_splitter(embedder: Embedder) -> tuple[Splitter, list[int]]:
    """The ingestion splitter (chunk size 128), counting the characters it hands the tokenizer."""
    work = [0]

    def one(text: str) -> int:
        work[0] += len(text)
        return embedder.count_tokens(text)

    def many(texts: Sequence[str]) -> list[int]:
        work[0] += sum(len(t) for t in texts)
        return embedder.count_tokens_many(texts)

    return make_splitter(128, 0, one, many, additive=embedder.tokens_split_at_whitespace), work


def test_chunking_work_is_linear_in_the_text_length(embedder: Embedder) -> None:
    """Tokenizer work (characters tokenized) per character of text stays constant as text grows,
    for prose and for text without a single sentence boundary. Operations, not wall-clock."""
    words = ["alpha", "river", "council", "harbour", "zorquim", "berths", "drone", "shelter"]
    unpunctuated = " ".join(words[(i * 7 + i // 3) % len(words)] for i in range(40_000))
    prose = " ".join(f"The {w} council met on day {i}." for i, w in enumerate(words * 2_000))
    for text in (unpunctuated, prose):
        ratios = []
        for n in (len(text) // 8, len(text) // 2):
            splitter, work = _counting_splitter(embedder)
            chunks = chunk_article(_article(text[:n], title=None), splitter)
            assert chunks and chunks[-1].end >= n - 20
            ratios.append(work[0] / n)
        # each character is tokenized a bounded number of times, whatever the length
        assert max(ratios) <= 3.0, ratios
        assert abs(ratios[1] - ratios[0]) <= 0.25 * ratios[0], ratios
