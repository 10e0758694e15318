"""Turn a streamed generation into an Answer: verified sentences, renumbered citations to exact spans.

The streamed deltas are the raw model text (markers as the model wrote them); the final
Answer.text is the cleaned, renumbered version that a UI should show once it arrives.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator, Sequence

from llama_index.core.llms import LLM

from rag.compose import abstention, closest_passages, span_citation, with_notes
from rag.injection import flagged_text, injection_reason, masked, urls
from rag.llm import ABSTAIN_PHRASE, build_messages, make_llm, stream_generation
from rag.settings import Settings
from rag.types import Answer, AnswerEvent, AnswerSentence, Chunk, Citation, Hit, Span, Trace, Turn
from rag.verify import content_stems, numbers, split_generated, verify_sentence

ABSTAIN_TEXT = "The retrieved passages do not contain the answer to this question."
WITHHELD_NOTICE = (
    "{n} sentence(s) of the model's answer were withheld: they relayed an instruction or a link "
    "from a passage flagged as addressing the reader or an AI. Text in documents is data, not instructions."
)


def llm_answer_events(
    question: str,
    query: str,
    hits: Sequence[Hit],
    settings: Settings,
    history: Sequence[Turn] = (),
    llm: LLM | None = None,
) -> Iterator[AnswerEvent]:
    """Stream AnswerEvent(delta=token)s, then AnswerEvent("", answer); LLMError propagates for fallback."""
    hits = tuple(hits)
    notes: list[str] = []
    t0 = time.perf_counter()
    text = ""
    if hits:
        client = llm if llm is not None else make_llm(settings)
        for delta in stream_generation(client, build_messages(question, hits, history)):
            text += delta
            yield AnswerEvent(delta=delta)
    else:
        notes.append("no passages retrieved: the LLM was not called")
    trace = Trace(
        question=question,
        query=query,
        hits=hits,
        settings=settings.public(),
        timings_ms={"generate": (time.perf_counter() - t0) * 1000},
    )
    yield AnswerEvent(delta="", answer=build_answer(text, hits, trace, settings.llm_backend or "llm", notes))


def build_answer(text: str, hits: Sequence[Hit], trace: Trace, mode: str, notes: list[str]) -> Answer:
    """Verify and renumber a finished generation against the passages it was given."""
    answer, withheld = _build(text, hits, trace, mode, notes)
    if withheld and answer.notice is None:
        answer = dataclasses.replace(answer, notice=WITHHELD_NOTICE.format(n=withheld))
    return answer


def relayed(sentence: str, cited: Sequence[int], hits: Sequence[Hit]) -> str | None:
    """Why a generated sentence relays injected content (an instruction, or a link or claim found only
    in a flagged passage sentence); None when it does not."""
    if (why := injection_reason(sentence)) is not None:
        return f"it is itself an instruction ({why})"
    said = urls(sentence)
    for n, h in enumerate(hits, start=1):
        c = h.chunk
        if c.injection and said & urls(" ".join(flagged_text(c.text, c.start, c.injection))):
            return f"it carries a link from a flagged sentence of passage [{n}]"
    words = content_stems(sentence)
    for n in cited:
        c = hits[n - 1].chunk
        if not c.injection:
            continue
        flagged = " ".join(flagged_text(c.text, c.start, c.injection))
        clean = masked(c.text, c.start, c.injection)
        # It restates the flagged sentence: that sentence supports it, and it holds words that only
        # the flagged sentence has (or nothing else supports it).
        only_flagged = words & (content_stems(flagged) - content_stems(clean))
        if verify_sentence(sentence, [flagged])[0] and (
            only_flagged or not verify_sentence(sentence, [clean])[0]
        ):
            return f"it restates a flagged sentence of passage [{n}]"
    return None


def _build(text: str, hits: Sequence[Hit], trace: Trace, mode: str, notes: list[str]) -> tuple[Answer, int]:
    """The answer, and how many generated sentences were withheld as relayed injections."""
    body = text.replace(ABSTAIN_PHRASE, "").strip()
    if not re.search(r"\w", body):
        if text.strip():
            notes.append("the model said the passages do not contain the answer")
        return abstention(hits, with_notes(trace, notes), 0.0, mode, ABSTAIN_TEXT), 0
    if ABSTAIN_PHRASE in text:
        notes.append(f"the model also wrote {ABSTAIN_PHRASE}; the rest of its text was kept and checked")

    renumber: dict[int, int] = {}  # passage number in the prompt -> citation number in the answer
    cited_by: dict[int, list[str]] = {}  # passage number -> generated sentences citing it
    sentences: list[AnswerSentence] = []
    withheld = 0
    for sentence, markers in split_generated(body):
        valid = tuple(n for n in markers if 1 <= n <= len(hits))
        for n in markers:
            if n not in valid:
                notes.append(f"dropped citation [{n}] from {sentence!r}: no passage {n} was retrieved")
        relay = relayed(sentence, valid, hits)
        if relay is not None:
            withheld += 1
            notes.append(f"withheld {sentence!r}: {relay}")
            continue
        # Flagged sentences are data about the document, never support for a claim.
        clean = [masked(c.text, c.start, c.injection) for c in (hits[n - 1].chunk for n in valid)]
        supported, reason = verify_sentence(sentence, clean)
        if reason and valid:
            reason += " " + "".join(f"[{n}]" for n in valid)
        for n in valid:
            renumber.setdefault(n, len(renumber) + 1)
            cited_by.setdefault(n, []).append(sentence)
        sentences.append(
            AnswerSentence(
                text=sentence,
                citations=tuple(renumber[n] for n in valid),
                support="supported" if supported else "unsupported",
                reason=reason,
            )
        )
    if not sentences:  # every sentence relayed an injection
        notes.append("abstained: every generated sentence was withheld")
        return abstention(hits, with_notes(trace, notes), 0.0, mode, ABSTAIN_TEXT), withheld
    citations = tuple(_cite(new, hits[old - 1].chunk, cited_by[old]) for old, new in renumber.items())
    n_supported = sum(s.support == "supported" for s in sentences)
    abstained = n_supported == 0
    if abstained:
        notes.append("abstained: no generated sentence is supported by the passages it cites")
    answer = Answer(
        text=" ".join(_render(s) for s in sentences),
        sentences=tuple(sentences),
        citations=citations,
        abstained=abstained,
        confidence=n_supported / len(sentences) if sentences else 0.0,
        trace=with_notes(trace, notes),
        mode=mode,
        closest=closest_passages(hits) if abstained else (),
    )
    return answer, withheld


def _render(s: AnswerSentence) -> str:
    markers = "".join(f"[{n}]" for n in s.citations)
    return f"{s.text} {markers}" if markers else s.text


def _cite(n: int, chunk: Chunk, generated: list[str]) -> Citation:
    """Quote the chunk sentences that best support each citing sentence (one contiguous span)."""
    best = [b for b in (_best_sentence(chunk, g) for g in generated) if b is not None]
    if not best:
        return span_citation(n, chunk, Span(chunk.start, chunk.end))
    return span_citation(n, chunk, Span(min(s.start for s in best), max(s.end for s in best)))


def _best_sentence(chunk: Chunk, generated: str) -> Span | None:
    """The chunk sentence sharing the most content words and numbers with `generated`; None if none."""
    want_words, want_numbers = content_stems(generated), numbers(generated.lower())
    best: Span | None = None
    best_score = 0
    for span in chunk.sentences:
        if not (chunk.start <= span.start < span.end <= chunk.end):
            continue  # a span outside the chunk could not be quoted from chunk.text
        text = _slice(chunk, span)
        score = len(want_words & content_stems(text)) + 2 * len(want_numbers & numbers(text.lower()))
        if score > best_score:
            best, best_score = span, score
    return best


def _slice(chunk: Chunk, span: Span) -> str:
    return chunk.text[span.start - chunk.start : span.end - chunk.start]
