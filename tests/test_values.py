"""The value a sentence gives for a question's slot: what conflicts, recency and timelines compare."""

from __future__ import annotations

import doctest

import pytest

import rag.values
from rag.values import comparable, unit_of, value_of


def test_the_modules_examples_hold() -> None:
    result = doctest.testmod(rag.values)
    assert result.attempted >= 5 and result.failed == 0


@pytest.mark.parametrize(
    ("sentence", "value"),
    [
        ("Some 80 firefighters fought the blaze overnight.", "80 firefighters"),
        ("The union says 1,650 drivers joined the walkout.", "1,650 drivers"),
        ("Officials said 9 villagers were still missing.", "9 villagers"),
        ("The toll rose to 31 across the region.", "31"),  # 'across' is not a counted noun
        ("The flood damaged 12 bus routes.", "12"),  # a noun phrase that does not end in a plural
    ],
)
def test_a_figure_keeps_the_noun_it_counts(sentence: str, value: str) -> None:
    assert value_of(sentence, "number", "How many?") == value


def test_figures_of_different_things_are_not_rivals() -> None:
    assert unit_of("80 firefighters") == "firefighters"
    assert comparable("80 firefighters", "100 firefighters")
    assert not comparable("80 firefighters", "100 engines")


def test_word_families_meet_and_short_words_stay_apart() -> None:
    """'explosion' asked, 'exploded' written: one family (the stemmer keeps 'explos' and 'explod').
    'dam' and 'damage' are not."""
    from rag.extractive import canon
    from rag.lexical import terms

    assert canon(terms("explosion")) == canon(terms("exploded"))
    assert canon(terms("residents")) == canon(terms("residential"))
    assert not canon(terms("dam")) & canon(terms("damage"))
