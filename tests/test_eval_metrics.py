"""Eval metrics, question files, the gate and sweep parsing, on hand-built Answers."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path

import pytest
from eval_helpers import ARTICLES, article_text, chunk, cite, make_answer, sample_records
from fake_llm import FakeLLMServer

from evals import metrics as m
from evals.gate import TOLERANCES, compare, format_regressions
from evals.judge import judge_records
from evals.questions import Question, QuestionFileError, load_questions, question_type
from evals.scoring import SCORE_KEYS, score_question, summarise
from evals.sweep import coerce_setting, combinations, parse_sweep_args
from rag.errors import ConfigError
from rag.settings import Settings

EVAL_MODULES = ["metrics", "questions", "scoring", "gate", "sweep", "runner"]


@pytest.mark.parametrize("name", EVAL_MODULES)
def test_docstring_examples_hold(name: str) -> None:
    module = importlib.import_module(f"evals.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0
    if name in ("metrics", "gate", "sweep"):
        assert result.attempted > 0


@pytest.mark.parametrize(
    ("fact", "text", "expected"),
    [
        ("Roses on the Hand", "the \u201cROSES   on the\nhand\u201d team", True),
        ("decision-making centers", "decision\u2013making centers were hit", True),
        ("Kupiansk's", "Kupiansk\u2019s river", True),
        ("Center|Centre", "rated centre by AllSides", True),
        ("logistic", "Logistics are hard", True),
        ("49", "1949 drones", False),
        ("49", "49,000 drones", True),
        ("21", "21.5 km", True),
        ("Belgorod", "Kharkiv only", False),
        ("|", "anything", False),
    ],
)
def test_fact_matching(fact: str, text: str, expected: bool) -> None:
    assert m.fact_present(fact, text) is expected


def test_retrieval_metrics_article_and_passage_level() -> None:
    k_text, r_text = ARTICLES["kharkiv"], ARTICLES["kupiansk"]
    hits = [
        chunk("kupiansk", 0, len(r_text)),
        chunk("kharkiv", 0, 20, n=1),
        chunk("kharkiv", 20, len(k_text), n=2),
    ]
    q = Question("q", "How many drones?", key_facts=("21", "49"), sources=("kharkiv",))
    rec = score_question(q, make_answer(hits), article_text, total_ms=5.0, k=2)
    v = rec["metrics"]
    assert (v["hit_at_1"], v["hit_at_5"], v["rr"]) == (0.0, 1.0, 0.5)
    # The first kharkiv chunk ("Air defenses shot do") holds no fact: the passage-level rank is 3.
    assert ARTICLES["kharkiv"][:20] == "Air defenses shot do"
    assert v["passage_hit_at_k"] == 0.0
    assert v["passage_rr"] == pytest.approx(1 / 3)
    assert v["passage_recall_at_k"] == 0.0
    assert v["recall_at_k"] == 1.0


def test_scores_of_a_right_a_partial_and_an_abstained_answer() -> None:
    recs = {r["id"]: r for r in sample_records()}
    assert recs["q1"]["correct"] and recs["q1"]["metrics"]["key_fact_recall"] == 1.0
    assert recs["q2"]["missing_facts"] == ["Kupiansk"]
    assert recs["q2"]["metrics"]["key_fact_recall"] == 0.5
    assert recs["q2"]["failure"] == "missing key facts: Kupiansk"
    # An abstention states nothing, even though the answer text is not empty.
    assert recs["q3"]["metrics"]["key_fact_recall"] == 0.0
    assert "abstained on an answerable question" in recs["q3"]["failure"]
    assert recs["q4"]["correct"] and recs["q4"]["failure"] is None


def test_summary_counts_every_metric_and_skips_llm_metrics() -> None:
    s = summarise(sample_records())
    assert (s["n_questions"], s["n_answerable"]) == (4, 3)
    assert s["answer_accuracy"] == pytest.approx(1 / 3)
    assert s["metrics"]["answer_accuracy"] == {"value": s["answer_accuracy"], "n": 3}
    assert s["key_fact_recall"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert s["metrics"]["abstention_recall"] == {"value": 1.0, "n": 1}
    assert s["abstention_precision"] == 0.5  # abstained on q3 (answerable) and q4 (not)
    assert s["false_abstention_rate"] == pytest.approx(1 / 3)
    assert s["citation_resolve_rate"] == 1.0 and s["metrics"]["citation_resolve_rate"]["n"] == 2
    assert s["citation_support_rate"] == 0.5  # q2's cited span lacks "Kupiansk"
    for name in ("faithfulness", "relevancy"):
        assert s[name] is None
        assert s["metrics"][name] == {"value": None, "n": 0, "skipped": "no LLM configured"}
    assert s["latency_p50_ms"] == m.percentile([100.0, 150.0, 200.0, 250.0], 50)
    assert list(s["latency_ms"]) == ["retrieve", "answer", "total"]
    for key in SCORE_KEYS:
        assert s[key] is None or 0.0 <= s[key] <= 1.0


def test_a_citation_whose_quote_differs_from_the_stored_span_does_not_resolve() -> None:
    text = ARTICLES["kharkiv"]
    bad = cite(1, "kharkiv", 0, 12, quote="Air defence")
    good = cite(2, "kharkiv", 13, 17)
    q = Question("q", "Who?", key_facts=("Air",), sources=("kharkiv",))
    rec = score_question(q, make_answer([chunk("kharkiv", 0, len(text))], [bad, good]), article_text, 1.0, 5)
    assert [c["resolves"] for c in rec["citations"]] == [False, True]
    assert "citations that do not resolve: 1" in rec["failure"]
    assert summarise([rec])["citation_resolve_rate"] == 0.5


def test_abstention_metrics_on_their_own_populations() -> None:
    abstained = [True, True, False, False, True]
    answerable = [False, True, False, True, True]
    assert m.abstention_precision(abstained, answerable) == m.Metric(1 / 3, 3)
    assert m.abstention_recall(abstained, answerable) == m.Metric(0.5, 2)
    assert m.false_abstention_rate(abstained, answerable) == m.Metric(2 / 3, 3)
    assert m.abstention_recall([True], [True]) == m.Metric(None, 0)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "qs.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


GOOD = json.dumps({"id": "a", "question": "Who?", "key_facts": ["x"], "sources": ["s"]})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"question": "Who?"}), "missing required field 'id'"),
        (json.dumps({"id": "b", "question": ""}), "field 'question' must be a non-empty string"),
        (json.dumps({"id": "b", "question": "Q?", "key_facts": "21"}), "field 'key_facts' must be a list"),
        (
            json.dumps({"id": "b", "question": "Q?", "answerable": "no"}),
            "field 'answerable' must be true or false",
        ),
        (
            json.dumps({"id": "b", "question": "Q?", "answerable": False, "key_facts": ["x"]}),
            "field 'key_facts'",
        ),
        (json.dumps({"id": "a", "question": "Q?"}), "field 'id': duplicate id 'a' (first on line 1)"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_a_bad_question_line_names_file_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path, [GOOD, "", line])
    with pytest.raises(QuestionFileError) as err:
        load_questions(path)
    assert str(err.value).startswith(f"{path}:3: ")
    assert message in str(err.value)


def test_the_seed_dev_set_loads_with_types() -> None:
    qs = load_questions(Path(__file__).parent.parent / "evals" / "questions" / "seed_dev.jsonl")
    assert len({q.id for q in qs}) == len(qs) > 0
    assert {q.type for q in qs if not q.answerable} == {"unanswerable"}
    assert all(q.key_facts for q in qs if q.answerable)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Which team evacuates people?", "what"),
        ("When did the strike happen?", "when"),
        ("Where is Kupiansk?", "where"),
        ("Why is it hard to reach?", "why"),
        ("How much did it cost?", "how many"),
        ("How did it unfold?", "other"),
        ("Whose drones were they?", "who"),
        ("Name the spokesman.", "other"),
    ],
)
def test_question_type_from_the_wh_word(question: str, kind: str) -> None:
    assert question_type(question) == kind


def test_gate_tolerances() -> None:
    base = {"answer_accuracy": 0.80, "false_abstention_rate": 0.10, "latency_p95_ms": 100.0, "mrr": 0.9}
    ok = {"answer_accuracy": 0.79, "false_abstention_rate": 0.115, "latency_p95_ms": 349.0, "mrr": None}
    assert compare(ok, base) == []
    worse = {"answer_accuracy": 0.75, "false_abstention_rate": 0.2, "latency_p95_ms": 351.0, "mrr": 0.5}
    regs = {r.metric: r for r in compare(worse, base)}
    assert set(regs) == {"answer_accuracy", "false_abstention_rate", "latency_p95_ms", "mrr"}
    assert regs["answer_accuracy"].delta == pytest.approx(-0.05)
    assert regs["latency_p95_ms"].limit == pytest.approx(100 * 2 + 150)
    text = format_regressions(list(regs.values()))
    assert "answer_accuracy: 0.800 -> 0.750 (-0.050; limit 0.780)" in text


def test_gate_requires_every_citation_to_resolve_whatever_the_baseline() -> None:
    regs = compare({"citation_resolve_rate": 0.99}, {"citation_resolve_rate": 0.99})
    assert [(r.metric, r.limit) for r in regs] == [("citation_resolve_rate", 1.0)]
    assert compare({"citation_resolve_rate": 1.0}, {}) == []
    assert set(TOLERANCES) >= {"answer_accuracy", "hit_at_1", "hit_at_5", "mrr", "latency_p50_ms"}


def test_sweep_arguments_parse_by_field_type() -> None:
    grid = parse_sweep_args(["chunk_size=128, 256", "k=3,5,8", "embed_context=false"])
    assert grid == {"chunk_size": ["128", "256"], "k": ["3", "5", "8"], "embed_context": ["false"]}
    combos = combinations(Settings(), grid)
    assert len(combos) == 6
    assert combos[-1][0] == {"chunk_size": 256, "k": 8, "embed_context": False}
    assert combos[-1][1].k == 8 and combos[-1][1].chunk_size == 256
    assert coerce_setting("abstain_threshold", "0.5") == 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["k"], "--sweep wants NAME=V1,V2"),
        (["nope=1"], "unknown setting 'nope'"),
        (["k=1", "k=2"], "given twice"),
        (["k="], "no values"),
        (["data_dir=/tmp"], "unknown setting 'data_dir'"),
    ],
)
def test_bad_sweep_arguments(args: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_sweep_args(args)


def test_bad_sweep_values_fail_before_any_run() -> None:
    with pytest.raises(ConfigError, match="'three' is not a valid int"):
        combinations(Settings(), {"k": ["three"]})
    with pytest.raises(ConfigError, match="k=0: k must be greater than 0"):
        combinations(Settings(), {"k": ["0"]})


@pytest.mark.slow  # the first llama-index evaluation import takes seconds
def test_llm_judge_scores_answers_through_the_fake_server() -> None:
    recs = sample_records()
    with FakeLLMServer() as srv:
        # Judged in order: q1 faithful+relevant, q2 faithful but not relevant; q3 and q4 abstained.
        for reply in ("YES", "YES", "YES", "NO"):
            srv.push(reply)
        settings = Settings(llm_backend="openai", llm_base_url=srv.url, llm_model="fake-model")
        judge_records(recs, settings)
        prompts = [r.body["messages"][-1]["content"] for r in srv.chat_requests()]
    assert len(prompts) == 4
    assert recs[0]["answer"].split(" [")[0] in prompts[0]
    values = [(r["metrics"]["faithfulness"], r["metrics"]["relevancy"]) for r in recs]
    assert values == [(1.0, 1.0), (1.0, 0.0), (None, None), (None, None)]
    s = summarise(recs, judged=None)
    assert s["metrics"]["faithfulness"] == {"value": 1.0, "n": 2}
    assert s["metrics"]["relevancy"] == {"value": 0.5, "n": 2}


def test_llm_judge_failure_lowers_n_instead_of_scoring_zero() -> None:
    recs = sample_records()
    with FakeLLMServer() as srv:
        srv.push_error(500, "boom")
        srv.push("YES")
        srv.push("YES")
        settings = Settings(llm_backend="openai", llm_base_url=srv.url, llm_model="fake-model")
        judge_records(recs, settings)
    assert "judge_error" in recs[0] and recs[0]["metrics"]["faithfulness"] is None
    assert summarise(recs, judged=None)["metrics"]["faithfulness"] == {"value": 1.0, "n": 1}
