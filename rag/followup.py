"""Rewriting a follow-up question into a standalone search query, using the conversation.

Only a question that refers back is rewritten: one that opens with "and…"/"what about…", a bare
fragment ("In Vovchansk?"), or one whose only subject is a pronoun ("How many were injured
there?"). A question that stands on its own is searched as asked, whatever came before.

>>> from rag.types import Turn
>>> rewrite("What about Vovchansk?", [Turn("What is the situation in Kupiansk?")])
'What is the situation in Vovchansk?'
>>> rewrite("How many were injured there?", [Turn("What happened in Kharkiv on December 31?")])
'How many were injured there? (Kharkiv, December)'
>>> rewrite("Who is Viktor Trehubov?", [Turn("What happened in Kharkiv?")])
'Who is Viktor Trehubov?'
>>> rewrite("and what about Vovchansk?", [Turn("Who won the 2024 Eurovision song contest?")])
'Vovchansk'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.types import Turn

_ABOUT = re.compile(
    r"^\W*(?:and\s+|but\s+|so\s+)?(?:what|how)\s+about\s+(.+?)\W*$|^\W*and\s+(?:in|for|at|near|on)\s+(.+?)\W*$"
    r"|^\W*(?:the\s+)?same\s+(?:for|in)\s+(.+?)\W*$",
    re.I,
)
_FRAGMENT = re.compile(r"^\W*(?:and\s+)?(?:in|at|near|for|on)?\s*([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*)\W*$")
_ANAPHORA = re.compile(
    r"\b(there|then|it|its|they|them|their|that one|those|these|he|she|his|her|him|the same)\b", re.I
)
_ENTITY = re.compile(r"\b[A-Z][\w’'-]+(?:\s+(?:of\s+|the\s+)?[A-Z][\w’'-]+)*")
_FORM_WORDS = set(
    [
        "What",
        "Who",
        "Whom",
        "Whose",
        "Which",
        "When",
        "Where",
        "Why",
        "How",
        "Is",
        "Are",
        "Was",
        "Were",
        "Did",
        "Does",
        "Do",
        "And",
        "But",
        "So",
        "The",
        "In",
        "On",
        "At",
        "Has",
        "Have",
        "Had",
        "Can",
        "Could",
        "Would",
        "Will",
        "Should",
        "Tell",
        "Give",
        "List",
        "Show",
        "Please",
        "A",
        "An",
    ]
)
# An entity in one of these slots is the place or subject a question is about: "in Kupiansk",
# "over Kharkiv", "of the Task Force". An entity elsewhere ("the 2024 Eurovision song contest")
# is part of a name, and swapping a new topic into it would invent a question.
_SLOT = re.compile(r"\b(in|at|near|around|over|from|to|for|of|on|about|outside|inside)\s+(the\s+)?$", re.I)


def _entities(text: str) -> list[tuple[int, str]]:
    """(offset, name) of capitalised names, question-form words left out."""
    out = []
    for m in _ENTITY.finditer(text):
        words = m.group().split()
        skip = 0
        while skip < len(words) and words[skip] in _FORM_WORDS:
            skip += 1
        if skip < len(words):
            offset = m.start() + len(" ".join(words[:skip])) + (1 if skip else 0)
            out.append((offset, " ".join(words[skip:])))
    return out


def refers_back(question: str) -> bool:
    """Whether the question leans on the conversation (ellipsis, a bare fragment or a lone pronoun)."""
    if _ABOUT.match(question) or _FRAGMENT.match(question):
        return True
    return bool(_ANAPHORA.search(question)) and not _entities(question)


def rewrite(question: str, history: Sequence[Turn] | None) -> str:
    """The question as a standalone query; unchanged when it already stands alone."""
    if not history or not refers_back(question):
        return question
    previous = _standalone_previous(history)
    m = _ABOUT.match(question) or _FRAGMENT.match(question)
    if m:
        topic = next(g for g in m.groups() if g)
        slot = _slot_entity(previous)
        if slot is None:
            return topic  # nothing to swap it into: search the new topic on its own
        start, old = slot
        if re.match(r"the\s+", topic, re.I) and previous[:start].lower().endswith("the "):
            topic = topic[4:]
        return previous[:start] + topic + previous[start + len(old) :]
    ents = [name for _, name in _entities(previous)]
    if ents:
        return f"{question} ({', '.join(dict.fromkeys(ents))})"
    return question


def _standalone_previous(history: Sequence[Turn]) -> str:
    """The last question as it was searched: follow-ups of follow-ups keep their topic."""
    text = history[-1].question
    if len(history) > 1 and refers_back(text):
        return rewrite(text, history[:-1])
    return text


def _slot_entity(previous: str) -> tuple[int, str] | None:
    """The last entity of `previous` that sits in a place/subject slot, as (offset, name)."""
    found = [(i, name) for i, name in _entities(previous) if _SLOT.search(previous[:i])]
    return found[-1] if found else None
