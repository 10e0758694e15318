"""The query plan: the question interpreted once (kind, answer type, dates, filters, search text)."""

from __future__ import annotations

from datetime import date

import pytest

from rag.plan import build_plan
from rag.types import Filters

NEWS = (date(2025, 3, 1), date(2025, 3, 20))  # a corpus dated March 2025


@pytest.mark.parametrize(
    ("question", "kind", "atype"),
    [
        ("What is the latest death toll?", "latest", "number"),
        ("How many people have died so far?", "latest", "number"),
        ("What was the toll as of March 8?", "as_of", "number"),
        ("How did the death toll develop?", "timeline", "number"),
        ("Give me a timeline of the strike", "timeline", None),
        ("What has happened since March 5?", "timeline", None),
        ("Do the outlets agree on the number of evacuees?", "comparison", "number"),
        ("Which sources disagree about the cause?", "comparison", None),
        ("What happened in Belgorod?", "overview", None),
        ("What do the articles say about Vovchansk?", "overview", None),
        ("When did the dam fail?", "factoid", "date"),
        ("Who heads the communications department?", "factoid", "name"),
        ("Where did the strike hit?", "factoid", "place"),
    ],
)
def test_kind_and_answer_type(question: str, kind: str, atype: str | None) -> None:
    plan = build_plan(question, corpus_dates=NEWS)
    assert (plan.kind, plan.answer_type) == (kind, atype)


def test_as_of_becomes_an_until_filter_that_drops_undated_articles() -> None:
    plan = build_plan("What was the toll as of March 8?", corpus_dates=NEWS)
    assert plan.dates.as_of == date(2025, 3, 8) and plan.filters.until == date(2025, 3, 8)
    assert not plan.filters.keep_undated
    assert plan.search_text == "What was the toll?"
    before = build_plan("What happened before March 8, 2025?", corpus_dates=NEWS)
    assert before.dates.as_of == date(2025, 3, 7)


def test_a_day_without_a_year_takes_the_corpus_year() -> None:
    # The newest article is from January 2026: "December 30" is the December before it.
    plan = build_plan(
        "What was reported as of December 30?", corpus_dates=(date(2025, 6, 1), date(2026, 1, 5))
    )
    assert plan.dates.as_of == date(2025, 12, 30)


def test_since_sets_the_lower_bound_and_user_filters_win() -> None:
    plan = build_plan("How many evacuated since March 5?", corpus_dates=NEWS)
    assert plan.filters.since == date(2025, 3, 5)
    user = Filters(since=date(2025, 3, 1), keep_undated=True)
    kept = build_plan("How many evacuated since March 5?", filters=user, corpus_dates=NEWS)
    assert kept.filters.since == date(2025, 3, 1) and kept.filters.keep_undated
    assert kept.user_filters == user


def test_years_in_the_question_are_an_event_period_not_a_filter() -> None:
    plan = build_plan("Which team did Jo Smith play for from 2001 to 2002?", corpus_dates=NEWS)
    assert plan.dates.period == (2001, 2002) and plan.filters.empty and plan.kind == "factoid"
    assert build_plan("Who owned the castle from 1369 to1420?").dates.period == (1369, 1420)


def test_on_an_undated_corpus_publication_words_become_a_period() -> None:
    plan = build_plan("Who was the mayor as of 2005?", corpus_dates=(None, None))
    assert plan.dates.as_of is None and plan.filters.empty and plan.dates.period == (2005, 2005)
    assert not build_plan("What is the current name?", corpus_dates=(None, None)).dates.latest


def test_plan_is_frozen_and_serialisable() -> None:
    plan = build_plan("What is the latest on Kupiansk?", corpus_dates=NEWS)
    with pytest.raises(AttributeError):
        plan.kind = "factoid"  # type: ignore[misc]
    js = plan.to_json()
    assert js["kind"] == "latest" and js["dates"]["latest"] and js["search_text"] == "What is on Kupiansk?"
    assert plan.broad
