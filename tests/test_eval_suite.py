"""`rag eval --suite`: the suite file, the CI sample, one combined report with the naive baseline, the gate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from evals.questions import load_questions
from evals.suite import DEFAULT_SUITE, SuiteFileError, load_suite, sample_questions
from evals.suite_runner import BINDING_KEYS, SuiteResult, load_suite_baseline, run_suite
from index.ingest import ingest_paths
from rag.cli import main
from rag.errors import ConfigError
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ingest = partial(ingest_paths, progress=False)
PNG = b"\x89PNG\r\n\x1a\n"


def write_suite(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the suite file
def test_the_default_suite_names_every_set_and_its_corpus() -> None:
    suite = load_suite(DEFAULT_SUITE)
    assert [s.name for s in suite.sets] == [
        "seed_dev",
        "seed_extra",
        "squad2",
        "timeqa",
        "ramdocs",
        "news",
        "seed_broad",
    ]
    for s in suite.sets:
        assert s.questions.is_file() and s.corpus.exists()
        assert ROOT in s.questions.parents  # inside the project: nothing from /work/shared
        assert len(load_questions(s.questions)) >= 10
    assert suite.select(["timeqa", "squad2"]).sets[0].name == "squad2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name = 'x'\n", r"field 'sets': expected one or more \[\[sets\]\] tables"),
        ("[[sets]]\nname = 'a'\nquestions = 'q.jsonl'\n", r"sets\[0\] \('a'\): field 'corpus': required"),
        ("[[sets]]\nname = 'a'\nquestions = 'missing.jsonl'\ncorpus = 'c'\n",
         r"sets\[0\] \('a'\): field 'questions': no such file: .*missing.jsonl"),
        ("[[sets]]\nname = 'a'\nquestions = 'q.jsonl'\ncorpus = 'nowhere'\n",
         r"sets\[0\] \('a'\): field 'corpus': no such file or folder"),
        ("[[sets]]\nname = 'a'\nquestions = 'q.jsonl'\ncorpus = 'c'\ncorpra = 'c'\n",
         r"sets\[0\] \('a'\): unknown field\(s\) corpra"),
        ("[[sets]]\nname = 'a b'\nquestions = 'q.jsonl'\ncorpus = 'c'\n", r"field 'name': use letters"),
        ("[[sets]]\nname = 'a'\nquestions = 'q.jsonl'\ncorpus = 'c'\n[[sets]]\nname = 'a'\nquestions = 'q.jsonl'\n"
         "corpus = 'c'\n", r"sets\[1\]: field 'name': duplicate set name 'a'"),
        ("[[sets]\nname = 'a'\n", r"not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_suite_file_names_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "q.jsonl").write_text('{"id": "1", "question": "?"}\n')
    (tmp_path / "c").mkdir()
    path = write_suite(tmp_path / "bad.toml", body)
    with pytest.raises(SuiteFileError, match=message) as err:
        load_suite(path)
    assert str(err.value).startswith(f"{path}: ")


def test_unknown_set_names_are_listed_with_the_known_ones() -> None:
    with pytest.raises(
        SuiteFileError, match=r"no set named 'nope'; the suite has: seed_dev, seed_extra, squad2"
    ):
        load_suite(DEFAULT_SUITE).select(["squad2", "nope"])


# ---------------------------------------------------------------- the CI sample
def test_the_sample_is_stratified_and_fixed() -> None:
    suite = {s.name: s for s in load_suite(DEFAULT_SUITE).sets}
    for name, (ans, una) in {
        "squad2": (20, 20),
        "timeqa": (28, 12),
        "ramdocs": (40, 0),
        "seed_dev": (10, 2),
    }.items():
        qs = load_questions(suite[name].questions)
        picked = sample_questions(qs, 40, seed=0, salt=name)
        assert Counter(q.answerable for q in picked) == Counter({True: ans, False: una}) - Counter(), name
        assert picked == sample_questions(qs, 40, seed=0, salt=name)
        assert [q.id for q in picked] == [q.id for q in qs if q in picked]  # file order kept
    qs = load_questions(suite["squad2"].questions)
    assert sample_questions(qs, 40, 0, "squad2") != sample_questions(qs, 40, 1, "squad2")
    assert (
        sample_questions(qs, 3, 0, "squad2")
        and sum(not q.answerable for q in sample_questions(qs, 3, 0, "x")) >= 1
    )


def test_the_sample_is_the_same_in_another_process() -> None:
    # Nothing may depend on Python's per-process string hashing.
    code = ("from evals.suite import *; from evals.questions import load_questions; "
            "s = {x.name: x for x in load_suite(DEFAULT_SUITE).sets}['timeqa']; "
            "print(','.join(q.id for q in sample_questions(load_questions(s.questions), 25, 7, 'timeqa')))")  # fmt: skip
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        for seed in ("1", "2")
    }  # fmt: skip
    assert len(outs) == 1 and len(next(iter(outs)).split(",")) == 25


# ---------------------------------------------------------------- the command line
def test_eval_help_explains_the_suite(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = capsys.readouterr().out
    for flag in ("--suite [SUITE]", "--sets", "--sample N", "--no-naive", "--questions", "naive llama-index"):
        assert flag in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sample", "5", "--questions", "q", "--corpus", "c"], "--sample goes with --suite"),
        (["--suite", "--questions", "q.jsonl"], "--suite runs the suite's own question sets"),
        (["--suite", "nope"], "no suite file 'nope'"),
        (["--suite", "--sets", "squad2,bogus"], "no set named 'bogus'"),
        ([], "give --questions Q.jsonl and --corpus DIR_OR_JSONL, or --suite"),
    ],
)
def test_eval_argument_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["eval", "--out", str(tmp_path / "out"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_single_set_summary_or_another_sample_is_no_suite_baseline(tmp_path: Path) -> None:
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"answer_accuracy": 1.0}))
    with pytest.raises(ConfigError, match="single-set summary"):
        load_suite_baseline(single, None)
    sampled = tmp_path / "sampled.json"
    sampled.write_text(json.dumps({"answer_accuracy": 1.0, "sets": {}, "sample": {"n": 40, "seed": 0}}))
    with pytest.raises(ConfigError, match="made with --sample 40 --seed 0, this run uses the full sets"):
        load_suite_baseline(sampled, None)
    assert load_suite_baseline(sampled, {"n": 40, "seed": 0})["sets"] == {}


# ---------------------------------------------------------------- a real run on two small sets
ALPHA = [  # a JSONL corpus
    {"id": "a-rhine", "title": "Rhine", "text": "The Rhine flows through Basel before it turns north. Basel has "
     "three bridges over the river. The river carries 1,000 cubic metres of water a second at Basel."},
    {"id": "a-metro", "title": "Kyiv metro", "text": "The Kyiv metro opened in 1960 with five stations. It now "
     "has three lines. Its deepest station, Arsenalna, lies 105 metres underground."},
    {"id": "a-oslo", "title": "Oslo", "text": "Oslo is the capital of Norway. The Akerselva river runs through "
     "the city centre. The opera house opened in 2008 on the waterfront."},
]  # fmt: skip
ALPHA_Q = [
    {"id": "a1", "question": "When did the Kyiv metro open?", "key_facts": ["1960"], "sources": ["a-metro"],
     "kind": "factoid", "wrong_answers": ["1961"]},
    {"id": "a2", "question": "How deep is Arsenalna station?", "key_facts": ["105"], "sources": ["a-metro"],
     "kind": "factoid"},
    {"id": "a3", "question": "When did the Oslo opera house open?", "key_facts": ["2008"], "sources": ["a-oslo"]},
    {"id": "a4", "question": "Who designed the Lisbon aquarium?", "answerable": False, "kind": "factoid"},
]  # fmt: skip
BETA = {  # a folder corpus
    "b-bridge": "The Golden Gate Bridge opened in 1937. Its main span is 1,280 metres long.",
    "b-tower": "The Eiffel Tower was finished in 1889. It is 330 metres tall and made of wrought iron.",
    "b-dam": "The Hoover Dam was completed in 1936 on the Colorado River. Lake Mead lies behind it.",
}
BETA_Q = [
    {"id": "b1", "question": "When was the Eiffel Tower finished?", "key_facts": ["1889"], "sources": ["b-tower"]},
    {"id": "b2", "question": "How tall is the Eiffel Tower?", "key_facts": ["330"], "sources": ["b-tower"]},
    {"id": "b3", "question": "Which river does the Hoover Dam stand on?", "key_facts": ["Colorado"],
     "sources": ["b-dam"]},
    {"id": "b4", "question": "When did the Golden Gate Bridge open?", "key_facts": ["1937"], "sources": ["b-bridge"]},
    {"id": "b5", "question": "What is the population of Reykjavik?", "answerable": False},
]  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("suite")
    (ws / "alpha").mkdir()
    (ws / "alpha" / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ALPHA))
    (ws / "alpha" / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ALPHA_Q))
    (ws / "beta" / "articles").mkdir(parents=True)
    for name, text in BETA.items():
        (ws / "beta" / "articles" / f"{name}.txt").write_text(text)
    (ws / "beta" / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in BETA_Q))
    write_suite(ws / "small.toml", "name = 'small'\n"
                "[[sets]]\nname = 'alpha'\nquestions = 'alpha/questions.jsonl'\ncorpus = 'alpha/corpus.jsonl'\n"
                "[[sets]]\nname = 'beta'\nquestions = 'beta/questions.jsonl'\ncorpus = 'beta/articles'\n")  # fmt: skip
    return ws


@pytest.fixture(scope="module")
def settings(workspace: Path) -> Settings:
    return Settings.from_env({}, data_dir=workspace / "store")


@pytest.fixture(scope="module")
def first_run(workspace: Path, settings: Settings) -> SuiteResult:
    return run_suite(
        load_suite(workspace / "small.toml"), workspace / "run1", settings, ingest, progress=False
    )


@pytest.mark.slow
def test_one_run_writes_one_report_with_ours_beside_naive(workspace: Path, first_run: SuiteResult) -> None:
    out = first_run.out_dir
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["sets"]) == ["alpha", "beta"]
    for key in BINDING_KEYS:  # the single-run contract holds at the top, macro-averaged
        assert summary[key] is None or 0.0 <= summary[key] <= 1.0, key
    assert summary["n_questions"] == len(ALPHA_Q) + len(BETA_Q)
    alpha, beta = summary["sets"]["alpha"], summary["sets"]["beta"]
    assert summary["answer_accuracy"] == pytest.approx(
        (alpha["ours"]["answer_accuracy"] + beta["ours"]["answer_accuracy"]) / 2)  # fmt: skip
    for s in (alpha, beta):
        assert s["ours"]["citation_resolve_rate"] == 1.0
        assert s["naive"]["abstention_recall"] == 0.0 and s["naive"]["false_abstention_rate"] == 0.0
        assert s["naive"]["index"]["chunks"] > 0 and not s["naive"]["index"]["reused"]
        assert set(s["timings_s"]) >= {"ours_ingest", "ours_answer", "naive_index", "naive_answer", "total"}
    assert alpha["ours"]["by_kind"]["factoid"]["n"] == 3
    # a1 plants "1961"; the naive top chunk says "1960": scored, and not a false value.
    assert (alpha["naive"]["false_value_rate"], alpha["naive"]["metrics"]["false_value_rate"]["n"]) == (
        0.0,
        1,
    )
    a1 = next(r for r in first_run.records_of("alpha") if r["id"] == "a1")
    assert alpha["ours"]["metrics"]["false_value_rate"]["n"] == (0 if a1["abstained"] else 1)
    rows = [json.loads(line) for line in (out / "per_question.jsonl").read_text().splitlines()]
    assert Counter((r["set"], r["system"]) for r in rows) == {
        ("alpha", "ours"): 4, ("alpha", "naive"): 4, ("beta", "ours"): 5, ("beta", "naive"): 5}  # fmt: skip
    md = (out / "report.md").read_text()
    for text in ("## Set alpha", "## Set beta", "| metric | ours | n | naive | n |", "### alpha: by kind",
                 "failing questions", "## Timings (seconds)", "(plots/reliability.png)", "(plots/sets.png)",
                 "(plots/abstention.png)"):  # fmt: skip
        assert text in md, text
    for png in ("sets", "reliability", "abstention", "latency"):
        assert (out / "plots" / f"{png}.png").read_bytes()[:8] == PNG
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "Set beta" in html


@pytest.mark.slow
def test_the_gate_names_the_set_that_got_worse(
    workspace: Path, settings: Settings, first_run: SuiteResult
) -> None:
    baseline = workspace / "baseline.json"
    shutil.copy(first_run.out_dir / "summary.json", baseline)
    beta = first_run.summary["sets"]["beta"]["ours"]
    assert beta["answer_accuracy"] > 0.5
    # Worsen beta only: its tower article loses the facts two questions ask for.
    (workspace / "beta" / "articles" / "b-tower.txt").write_text("The Eiffel Tower stands in Paris.")
    result = run_suite(load_suite(workspace / "small.toml"), workspace / "run2", settings, ingest,
                       baseline=baseline, with_naive=False, progress=False)  # fmt: skip
    assert result.exit_code == 1 and result.summary["gate"] == "fail"
    assert result.regressions and {r.set for r in result.regressions} == {"beta"}
    accuracy = next(r for r in result.regressions if r.metric == "answer_accuracy")
    assert str(accuracy).startswith("set beta: answer_accuracy: ")
    assert accuracy.current < beta["answer_accuracy"] - 0.02
    assert result.summary["sets"]["beta"]["naive"] is None  # --no-naive
    # alpha's index was reused: nothing was embedded again.
    assert result.summary["sets"]["alpha"]["ours"]["corpus"]["ingest"]["texts_embedded"] == 0
    assert "REGRESSION: set beta: answer_accuracy" in (result.out_dir / "report.md").read_text()
