"""The hand-written eval sets hold together: key facts sit in their sources, and the audit catches mistakes."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from evals.metrics import fact_present
from evals.questions import load_questions
from index.readers import read_path

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT / "evals" / "sets" / "news"
SEED_BROAD = ROOT / "evals" / "questions" / "seed_broad.jsonl"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    # evals/sets/news is data with a script beside it, not a package the project imports.
    return importlib.import_module("evals.sets.news.check")


def _rewrite(questions: list[dict[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return path


def test_news_set_passes_its_audit(audit: ModuleType) -> None:
    assert audit.check() == []


def test_news_set_files_parse_with_the_project_readers() -> None:
    articles = read_path(NEWS / "corpus.jsonl")
    questions = load_questions(NEWS / "questions.jsonl")
    assert len(articles) >= 36
    assert all(a.title and a.source and a.url for a in articles)
    assert sum(a.published is None for a in articles) in (2, 3)
    assert {q.extra["kind"] for q in questions} == {
        "latest",
        "as_of",
        "timeline",
        "conflict",
        "factoid",
        "overview",
        "unanswerable",
    }


def test_audit_flags_a_latest_question_an_old_article_already_answers(
    audit: ModuleType, tmp_path: Path
) -> None:
    questions = audit.read_jsonl(audit.QUESTIONS)
    latest = next(q for q in questions if q["kind"] == "latest" and q["key_facts"] == ["26"])
    latest["key_facts"] = ["17"]  # the toll of March 6, still quoted as background on March 11
    problems = audit.check(questions=_rewrite(questions, tmp_path / "q.jsonl"))
    assert any(latest["id"] in p and "older article orrin-06" in p for p in problems), problems


def test_audit_flags_facts_missing_from_sources_and_late_as_of_sources(
    audit: ModuleType, tmp_path: Path
) -> None:
    questions = audit.read_jsonl(audit.QUESTIONS)
    factoid = next(q for q in questions if q["kind"] == "factoid")
    factoid["key_facts"] = ["Atlantis"]
    as_of = next(q for q in questions if q["kind"] == "as_of")
    as_of["as_of"] = "2025-01-01"
    conflict = next(q for q in questions if q["kind"] == "conflict")
    conflict["conflict_values"] = conflict["conflict_values"][:1]
    problems = audit.check(questions=_rewrite(questions, tmp_path / "q.jsonl"))
    assert f"question {factoid['id']}: key fact 'Atlantis' is in none of its sources" in problems
    assert any(p.startswith(f"question {as_of['id']}: sources published after 2025-01-01") for p in problems)
    assert f"question {conflict['id']}: a conflict question needs at least two conflict_values" in problems


def test_seed_broad_key_facts_are_in_their_sources() -> None:
    texts = {a.id: a.text for f in sorted((ROOT / "data" / "corpus").iterdir()) for a in read_path(f)}
    questions = load_questions(SEED_BROAD)
    assert sum(q.answerable for q in questions) >= 6
    assert sum(not q.answerable for q in questions) == 2
    for q in questions:
        if not q.answerable:
            assert not q.key_facts and not q.sources, q.id
            continue
        assert q.key_facts and q.sources, q.id
        for fact in q.key_facts:
            assert any(fact_present(fact, texts[s]) for s in q.sources), (q.id, fact)
