"""Hand-built Answers and question records for the eval tests (no index, no model)."""

from __future__ import annotations

from typing import Any

from evals.questions import Question
from evals.scoring import score_question
from rag.types import Answer, AnswerSentence, Chunk, Citation, Hit, Trace

ARTICLES = {
    "kharkiv": "Air defenses shot down 21 of the 49 drones launched overnight. Russia blamed Belgorod.",
    "kupiansk": "The \u201cRoses on the Hand\u201d team evacuates people. The city lies by a wide river.",
}


def chunk(article_id: str, start: int, end: int, n: int = 0) -> Chunk:
    text = ARTICLES[article_id][start:end]
    return Chunk(id=Chunk.make_id(article_id, n), article_id=article_id, n=n, text=text, start=start, end=end)


def cite(n: int, article_id: str, start: int, end: int, quote: str | None = None) -> Citation:
    text = ARTICLES[article_id][start:end]
    return Citation(
        n, article_id, f"{article_id}:0", start, end, text if quote is None else quote, None, None, None
    )


def make_answer(
    hits: list[Chunk],
    citations: list[Citation] = (),  # type: ignore[assignment]
    abstained: bool = False,
    confidence: float = 0.8,
    timings: dict[str, float] | None = None,
) -> Answer:
    """An Answer whose text is its citations' quotes, as the extractive answerer builds it."""
    sentences = tuple(AnswerSentence(c.quote, (c.n,), "quoted") for c in citations)
    text = " ".join(f"{c.quote} [{c.n}]" for c in citations) or (
        "I could not find this." if abstained else ""
    )
    trace = Trace(
        question="q",
        query="q",
        hits=tuple(Hit(chunk=c, rank=i, score=1.0 / i) for i, c in enumerate(hits, start=1)),
        settings={},
        timings_ms=timings or {"retrieve": 10.0, "answer": 5.0},
    )
    return Answer(text, sentences, tuple(citations), abstained, confidence, trace)


def article_text(article_id: str) -> str | None:
    return ARTICLES.get(article_id)


def sample_records() -> list[dict[str, Any]]:
    """Four scored questions: one right, one missing a fact, one false abstention, one correct abstention."""
    k = ARTICLES["kharkiv"]
    r = ARTICLES["kupiansk"]
    qs = [
        Question("q1", "How many drones were shot down?", key_facts=("21", "49"), sources=("kharkiv",)),
        Question(
            "q2", "Who evacuates people?", key_facts=("Roses on the Hand", "Kupiansk"), sources=("kupiansk",)
        ),
        Question("q3", "What lies by the city?", key_facts=("river|body of water",), sources=("kupiansk",)),
        Question("q4", "Who won Eurovision?", answerable=False),
    ]
    s21 = k.index("Air")
    e21 = k.index(".") + 1
    roses = r.index("The")
    answers = [
        make_answer(
            [chunk("kharkiv", 0, len(k))],
            [cite(1, "kharkiv", s21, e21)],
            timings={"retrieve": 12.0, "answer": 3.0},
        ),
        make_answer(
            [chunk("kharkiv", 0, len(k)), chunk("kupiansk", 0, len(r))],
            [cite(1, "kupiansk", roses, r.index(".") + 1)],
            timings={"retrieve": 20.0, "answer": 6.0},
        ),
        make_answer([chunk("kupiansk", 0, len(r))], abstained=True, confidence=0.2),
        make_answer([chunk("kharkiv", 0, len(k))], abstained=True, confidence=0.1),
    ]
    return [
        score_question(q, a, article_text, total_ms=float(100 + 50 * i), k=5)
        for i, (q, a) in enumerate(zip(qs, answers, strict=True))
    ]
