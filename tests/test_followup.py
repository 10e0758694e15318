"""Follow-ups are rewritten only when they refer back; self-contained questions are searched as asked."""

from __future__ import annotations

import pytest

from rag.followup import refers_back, rewrite
from rag.types import Turn

# (earlier questions, the new question, what must be searched)
DIALOGUES = [
    (["What is the situation in Kupiansk?"], "What about Vovchansk?", "What is the situation in Vovchansk?"),
    (["What is the situation in Kupiansk?"], "and what about Vovchansk?", "What is the situation in Vovchansk?"),
    (["How many drones were shot down over Kharkiv?"], "And in Odesa?", "How many drones were shot down over Odesa?"),
    (["What happened in Kharkiv on December 31?"], "How many were injured there?",
     "How many were injured there? (Kharkiv, December)"),
    # A self-contained question is never grafted onto the previous topic.
    (["Who won the 2024 Eurovision song contest?"], "and what about Vovchansk?", "Vovchansk"),
    (["What happened in Kharkiv?"], "Who is Viktor Trehubov?", "Who is Viktor Trehubov?"),
    (["What is happening in Kupiansk?"], "How many drones were shot down over Kharkiv?",
     "How many drones were shot down over Kharkiv?"),
    (["What is the latest death toll in Dunmore?"], "What was the toll as of March 8?",
     "What was the toll as of March 8?"),
    # A follow-up of a follow-up keeps the topic the conversation settled on.
    (["What is the situation in Kupiansk?", "What about Vovchansk?"], "How many civilians are still there?",
     "How many civilians are still there? (Vovchansk)"),
    (["Who heads the communications department of the Joint Forces Task Force?"], "What did he say?",
     "What did he say? (Joint Forces Task Force)"),
    ([], "What about Vovchansk?", "What about Vovchansk?"),
]  # fmt: skip


@pytest.mark.parametrize(("earlier", "question", "searched"), DIALOGUES)
def test_rewrite_dialogues(earlier: list[str], question: str, searched: str) -> None:
    assert rewrite(question, [Turn(q) for q in earlier]) == searched


@pytest.mark.parametrize(
    ("question", "leans"),
    [
        ("What about Vovchansk?", True),
        ("In Vovchansk?", True),
        ("How many were injured there?", True),
        ("Who is Viktor Trehubov?", False),
        ("What is the latest death toll?", False),
        ("What did the mayor of Kharkiv say about it?", False),  # names its own subject
    ],
)
def test_refers_back(question: str, leans: bool) -> None:
    assert refers_back(question) is leans
