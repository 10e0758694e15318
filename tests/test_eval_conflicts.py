"""Scoring additions on hand-built Answers: planted wrong values, reported conflicts, kinds, calibration."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from eval_helpers import ARTICLES, article_text, chunk, cite, make_answer

from evals.calibration import expected_calibration_error, reliability_bins
from evals.conflicts import conflict_recalled, effective_wrong_values, false_value_flags
from evals.questions import Question, QuestionFileError, load_questions
from evals.scoring import score_question, summarise
from rag.types import Answer, Conflict, ConflictValue

NEW_MODULES = ["conflicts", "calibration", "suite", "suite_runner", "naive", "gate", "scoring"]
KHARKIV = ARTICLES[
    "kharkiv"
]  # "Air defenses shot down 21 of the 49 drones launched overnight. Russia blamed Belgorod."


def with_conflicts(answer: Answer, conflicts: list[dict[str, Any]]) -> Answer:
    """`answer` with conflicts given as their JSON (design.md's `conflicts` field)."""
    return dataclasses.replace(
        answer,
        conflicts=tuple(
            Conflict(
                c.get("about", ""),
                tuple(
                    ConflictValue(v["value"], tuple(v.get("citations", ())), v.get("source"), None)
                    for v in c.get("values", ())
                ),
            )
            for c in conflicts
        ),
    )


def first_sentence_answer() -> Answer:
    end = KHARKIV.index(".") + 1
    return make_answer([chunk("kharkiv", 0, len(KHARKIV))], [cite(1, "kharkiv", 0, end)])


@pytest.mark.parametrize("name", NEW_MODULES)
def test_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(f"evals.{name}"))
    assert result.failed == 0
    assert result.attempted > 0


def test_wrong_values_inside_a_key_fact_do_not_count() -> None:
    # RAMDocs has "Football" planted beside the key fact "American football": stating the right
    # answer would match it, so it is dropped; "1860" equals its key fact.
    assert effective_wrong_values(["Football", "Soccer"], ["American football"]) == ["Soccer"]
    assert effective_wrong_values(["1860"], ["1859|1860"]) == []
    assert effective_wrong_values(["Raj Kapoor", "raj  kapoor"], ["Mahesh Bhatt"]) == ["Raj Kapoor"]


def test_false_value_split_by_conflict_flag_and_correct_fact() -> None:
    flag = [{"about": "drones", "values": [{"value": "49"}, {"value": "60"}]}]
    # A wrong value alone, no flag: the user is misled.
    assert false_value_flags("60 drones", ["49"], ["60"], []) == {
        "false_value": True, "false_value_with_flag": False, "false_value_alone": True}  # fmt: skip
    # The wrong value beside the right one, no flag: a false value, but not alone.
    assert false_value_flags("49 or 60 drones", ["49"], ["60"], None) == {
        "false_value": True, "false_value_with_flag": False, "false_value_alone": False}  # fmt: skip
    # Flagged: the user sees the disagreement.
    assert false_value_flags("60 drones", ["49"], ["60"], flag)["false_value_with_flag"] is True
    assert false_value_flags("60 drones", ["49"], ["60"], flag)["false_value_alone"] is False
    # "600" is not "60": numbers match whole.
    assert false_value_flags("600 drones", ["49"], ["60"], [])["false_value"] is False


def test_conflict_recall_needs_every_listed_value() -> None:
    reported = [
        {"about": "toll", "values": [{"value": "at least 26"}]},
        {"about": "x", "values": [{"value": "31"}]},
    ]
    assert conflict_recalled(["26", "31"], reported) is True
    assert conflict_recalled(["26", "31", "40"], reported) is False
    assert conflict_recalled(["26"], None) is False
    assert conflict_recalled([], reported) is None


def test_scored_answers_give_false_value_rates_and_conflict_recall() -> None:
    q_wrong = Question("r1", "How many drones were launched?", key_facts=("60",), sources=("kharkiv",),
                       extra={"wrong_answers": ["49", "21"]})  # fmt: skip
    q_right = Question("r2", "How many were shot down?", key_facts=("21",), sources=("kharkiv",),
                       extra={"wrong_answers": ["12"]})  # fmt: skip
    q_none = Question("r3", "How many were shot down?", key_facts=("21",), extra={"wrong_answers": []})
    q_conf = Question("n1", "How many drones?", key_facts=("49",), extra={"kind": "conflict",
                      "conflict_values": ["49", "60"]})  # fmt: skip
    flag = [
        {"about": "drones", "values": [{"value": "49", "citations": [1]}, {"value": "60", "citations": [2]}]}
    ]
    answers = [first_sentence_answer(), first_sentence_answer(), first_sentence_answer(),
               with_conflicts(first_sentence_answer(), flag)]  # fmt: skip
    records = [score_question(q, a, article_text, 10.0, 5)
               for q, a in zip([q_wrong, q_right, q_none, q_conf], answers, strict=True)]  # fmt: skip
    # The answer "...shot down 21 of the 49 drones..." states planted values of r1 (no right fact, no flag).
    assert records[0]["metrics"]["false_value"] is True and records[0]["metrics"]["false_value_alone"] is True
    assert records[1]["metrics"]["false_value"] is False
    assert records[2]["metrics"]["false_value"] is None  # no planted value: not in the rate
    assert records[3]["metrics"]["conflict_recalled"] is True
    assert records[3]["conflicts"] == with_conflicts(first_sentence_answer(), flag).to_json()["conflicts"]
    assert [v["value"] for v in records[3]["conflicts"][0]["values"]] == ["49", "60"]
    s = summarise(records)
    assert (s["false_value_rate"], s["metrics"]["false_value_rate"]["n"]) == (0.5, 2)
    assert (s["false_value_alone"], s["false_value_with_flag"]) == (0.5, 0.0)
    assert (s["conflict_recall"], s["metrics"]["conflict_recall"]["n"]) == (1.0, 1)
    # Only the question with a kind is broken down.
    assert list(s["by_kind"]) == ["conflict"]
    assert s["by_kind"]["conflict"]["n"] == 1 and s["by_kind"]["conflict"]["answer_accuracy"] == 1.0


def test_an_abstention_is_left_out_of_the_false_value_rate() -> None:
    q = Question("r1", "How many?", key_facts=("60",), extra={"wrong_answers": ["49"]})
    abstained = make_answer([chunk("kharkiv", 0, len(KHARKIV))], abstained=True, confidence=0.1)
    r = score_question(q, abstained, article_text, 5.0, 5)
    assert r["metrics"]["false_value"] is None
    assert summarise([r])["false_value_rate"] is None


def test_reliability_bins_and_calibration_error() -> None:
    conf = [0.05, 0.55, 0.58, 0.95, 0.99]
    ok = [False, True, False, True, True]
    bins = reliability_bins(conf, ok, bins=10)
    assert [b.n for b in bins] == [1, 0, 0, 0, 0, 2, 0, 0, 0, 2]
    assert bins[5].accuracy == 0.5 and bins[9].accuracy == 1.0 and bins[1].accuracy is None
    # |0 - 0.05|*1 + |0.5 - 0.565|*2 + |1 - 0.97|*2, over 5 answers
    assert expected_calibration_error(conf, ok, 10) == pytest.approx((0.05 + 0.13 + 0.06) / 5)


def test_extra_question_fields_are_kept_and_checked(tmp_path: Path) -> None:
    good = {"id": "n1", "question": "What is the latest toll?", "key_facts": ["26"], "kind": "latest",
            "conflict_values": ["26", "31"], "wrong_answers": ["12"], "ambiguous": False, "conflict": True,
            "doc_labels": {"d1": {"type": "correct"}}}  # fmt: skip
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(good) + "\n")
    (q,) = load_questions(path)
    assert (q.kind, q.conflict_values, q.wrong_answers) == ("latest", ("26", "31"), ("12",))
    assert q.extra["doc_labels"] == {"d1": {"type": "correct"}}
    for field, bad in (("conflict_values", "26"), ("wrong_answers", [1]), ("kind", ""), ("conflict", "yes")):
        path.write_text(json.dumps({**good, field: bad}) + "\n")
        with pytest.raises(QuestionFileError, match=rf"q.jsonl:1: field '{field}'"):
            load_questions(path)
