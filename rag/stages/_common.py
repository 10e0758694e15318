"""What the stages share: rebuilding an extractive answer from chosen evidence sentences."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rag.compose import quoted
from rag.evidence import Sentence
from rag.types import Answer


def rebuilt(
    answer: Answer,
    chosen: Sequence[Sentence],
    labels: Sequence[str | None] | None = None,
    **changes: object,
) -> Answer:
    """`answer` with `chosen` as its sentences (renumbered citations, exact spans), plus `changes`."""
    sentences, citations = quoted([(s.hit.chunk, s.span) for s in chosen], labels)
    return dataclasses.replace(answer, sentences=sentences, citations=citations, conflicts=(), **changes)  # type: ignore[arg-type]


def extractive(answer: Answer) -> bool:
    """Stages that choose sentences apply to quoted (extractive) answers only."""
    return not answer.abstained and answer.mode == "extractive" and bool(answer.sentences)
