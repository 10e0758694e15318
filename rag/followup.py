"""Rewriting a follow-up question into a standalone search query, using the conversation.

>>> from rag.types import Turn
>>> rewrite("What about Vovchansk?", [Turn("What is the situation in Kupiansk?")])
'What is the situation in Vovchansk?'
>>> rewrite("How many were injured there?", [Turn("What happened in Kharkiv on December 31?")])
'How many were injured there? (Kharkiv, December)'
>>> rewrite("Who is Viktor Trehubov?", [Turn("What happened in Kharkiv?")])
'Who is Viktor Trehubov?'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.types import Turn

_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?:in\s+|the\s+)?(.+?)\s*[?.!]*\s*$", re.I)
_ANAPHORA = re.compile(r"\b(there|then|it|its|they|them|their|that|those|this|these|he|she|his|her)\b", re.I)
_ENTITY = re.compile(r"\b[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*")
_FORM_WORDS = {
    "What",
    "Who",
    "Which",
    "When",
    "Where",
    "Why",
    "How",
    "Is",
    "Are",
    "Did",
    "Does",
    "Do",
    "And",
    "The",
    "In",
    "On",
}


def _entities(text: str) -> list[str]:
    out = []
    for m in _ENTITY.finditer(text):
        words = [w for w in m.group().split() if w not in _FORM_WORDS]
        if words:
            out.append(" ".join(words))
    return out


def rewrite(question: str, history: Sequence[Turn] | None) -> str:
    """The question as a standalone query; unchanged when it already stands alone."""
    if not history:
        return question
    previous = history[-1].question
    m = _ABOUT.match(question)
    if m:
        new_topic = m.group(1)
        ents = _entities(previous)
        if ents:
            old = ents[-1]
            idx = previous.rfind(old)
            return previous[:idx] + new_topic + previous[idx + len(old) :]
        return f"{previous.rstrip('?')} {new_topic}?"
    if _ANAPHORA.search(question) and not _entities(question):
        ents = _entities(previous)
        if ents:
            return f"{question} ({', '.join(dict.fromkeys(ents))})"
    return question
