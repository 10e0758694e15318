"""News-native answers over real stores: dates and outlets on every sentence, "latest" and
"as of", timelines, and sources that disagree (told apart from a source updating its figure)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from index.ingest import ingest_paths
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT / "evals" / "sets" / "news" / "corpus.jsonl"

# A small flood story: the Ledger updates its own toll (4, then 12); the Herald counts 15 on the
# same day as the Ledger's 12; an undated explainer gives a figure no date-bound answer may use.
FLOOD = [
    ("ledger-1", "Ledger", "2025-03-01", "River flood kills four in Marrow",
     "MARROW — The flood on the Tessel river has killed four people in Marrow, the regional rescue service said on Saturday. Rescue teams evacuated 300 residents from the lower town."),  # noqa: E501
    ("ledger-2", "Ledger", "2025-03-05", "Marrow flood toll rises to 12",
     "MARROW — The death toll from the Tessel river flood in Marrow rose to 12 on Wednesday, the regional rescue service said. The water level has started to fall."),  # noqa: E501
    ("herald-1", "Herald", "2025-03-05", "Marrow flood: 15 dead, say volunteers",
     "MARROW — Volunteers in Marrow say the death toll from the Tessel river flood is 15, higher than the official figure. They blamed the late warning for the deaths."),  # noqa: E501
    ("explainer", "Herald", None, "What we know about the Marrow flood",
     "The death toll from the Tessel river flood in Marrow stood at 40 in a count published by a local blog. The river burst its banks after days of heavy rain."),  # noqa: E501
]  # fmt: skip


@pytest.fixture(scope="module")
def flood(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("flood")
    corpus = root / "flood.jsonl"
    with corpus.open("w", encoding="utf-8") as f:
        for aid, source, day, title, text in FLOOD:
            row = {
                "id": aid,
                "source": source,
                "title": title,
                "text": text,
                **({"date": day} if day else {}),
            }
            f.write(json.dumps(row) + "\n")
    settings = Settings.from_env({}, data_dir=root / "store")
    assert ingest_paths([corpus], settings, progress=False).ok
    with build_pipeline(settings) as p:
        yield p


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("news") / "store")
    assert ingest_paths([NEWS], settings, progress=False).ok
    with build_pipeline(settings) as p:
        yield p


def test_every_sentence_shows_its_date_and_outlet_and_the_quote_stays_exact(flood: Pipeline) -> None:
    a = flood.ask("How many people died in the Marrow flood?")
    assert not a.abstained
    by_n = {c.n: c for c in a.citations}
    for s in a.sentences:
        c = by_n[s.citations[0]]
        assert (s.published, s.source) == (c.published, c.source)
        assert s.text == c.quote == flood.article(c.article_id).text[c.start : c.end]  # type: ignore[union-attr]
        label = f"{c.published.day} {c.published.strftime('%b %Y')}" if c.published else "Undated"
        assert f"{label}, {c.source}" in a.text
    js = a.to_json()
    assert all({"published", "source"} <= set(s) for s in js["sentences"])


def test_latest_leads_with_the_newest_evidence_and_flags_the_disagreement(flood: Pipeline) -> None:
    a = flood.ask("What is the latest death toll from the Marrow flood?")
    assert not a.abstained and a.sentences[0].label == "latest"
    newest = max(s.published for s in a.sentences if s.published)
    assert a.sentences[0].published == newest == date(2025, 3, 5)
    assert all(s.label == "earlier" for s in a.sentences[1:] if s.published != newest)
    assert a.text.startswith("Latest, 5 Mar 2025")
    # The Ledger's 4 is an earlier figure of the same outlet: a development, not a conflict. The
    # Ledger's 12 and the Herald's 15, both of 5 March, disagree.
    assert len(a.conflicts) == 1
    values = {v.value.split()[0]: v for v in a.conflicts[0].values}
    assert set(values) == {"12", "15"}
    assert {values["12"].source, values["15"].source} == {"Ledger", "Herald"}
    quotes = {c.n: c.quote for c in a.citations}
    for v in a.conflicts[0].values:
        assert v.citations and all(v.value.split()[0] in quotes[n] for n in v.citations)
    assert "Sources disagree on" in a.text
    assert a.to_json()["conflicts"][0]["values"][0]["published"] == "2025-03-05"


def test_a_moving_figure_is_answered_newest_first_even_without_latest(flood: Pipeline) -> None:
    a = flood.ask("How many people died in the Marrow flood?")
    assert a.sentences[0].published == date(2025, 3, 5)
    assert any(s.label == "earlier" and s.published == date(2025, 3, 1) for s in a.sentences)


def test_as_of_uses_only_evidence_published_by_then_and_says_so(flood: Pipeline) -> None:
    a = flood.ask("What was the death toll in the Marrow flood as of March 2?")
    assert not a.abstained
    assert all(c.published and c.published <= date(2025, 3, 2) for c in a.citations)
    assert "four" in a.text and a.lead and "As of 2 Mar 2025" in a.lead
    assert not a.conflicts


def test_an_undated_article_never_answers_a_date_bound_question(flood: Pipeline) -> None:
    a = flood.ask("What was the death toll in the Marrow flood as of March 10?")
    assert all(c.article_id != "explainer" for c in a.citations)
    assert not any(h.chunk.article_id == "explainer" for h in a.trace.hits)


def test_a_timeline_is_one_line_per_date_oldest_first(news: Pipeline) -> None:
    a = news.ask("How did the death toll from the Orrin Dam failure develop?")
    assert a.layout == "timeline" and len(a.sentences) >= 3
    days = [s.published for s in a.sentences]
    assert all(d is not None for d in days) and days == sorted(days) and len(set(days)) == len(days)  # type: ignore[type-var]
    lines = a.text.split("\n")
    assert lines[0].startswith("Timeline")
    assert all(re.match(r"\d{1,2} [A-Z][a-z]{2} \d{4}, ", line) for line in lines[1:])


def test_news_set_conflict_is_reported(news: Pipeline) -> None:
    a = news.ask("What is the latest death toll from the Orrin Dam flood?")
    values = {v.value.split()[0] for c in a.conflicts for v in c.values}
    assert {"26", "31"} <= values


def test_a_timeline_day_is_told_by_its_lede_when_the_lede_answers(news: Pipeline) -> None:
    """A news lede sums up its day's story: 'what has happened since' gets the 2 April lede (the
    closure extended to May 5), not a side detail of that article (soil tests)."""
    a = news.ask("What has happened to the Stellan Polymers plant since the fire on March 17?")
    assert a.layout == "timeline"
    april = [s for s in a.sentences if s.published == date(2025, 4, 2)]
    assert april and "May 5" in april[0].text
