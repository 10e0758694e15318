"""`rag ask` and `rag stats`: the interface contract in design.md, through the real CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rag.cli import main
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
Q = "How many drones did Ukrainian air defenses shoot down over Kharkiv?"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ask_json_has_the_contract_fields(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "ask", Q, "--json", "--data-dir", str(seed_settings.data_dir))
    assert code == 0
    a = json.loads(out)
    assert {"text", "abstained", "confidence", "citations", "sentences", "trace"} <= set(a)
    assert a["citations"] and {
        "n",
        "article_id",
        "chunk_id",
        "start",
        "end",
        "quote",
        "title",
        "source",
        "published",
    } <= set(a["citations"][0])
    assert {"text", "citations", "support"} <= set(a["sentences"][0])
    hits = a["trace"]["hits"]
    assert hits and {"article_id", "chunk_id", "rank", "score"} <= set(hits[0]) and hits[0]["rank"] == 1
    assert "[1]" in a["text"] and "21" in a["text"]


def test_ask_text_prints_answer_then_numbered_sources(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "ask", Q, "--data-dir", str(seed_settings.data_dir), "--k", "3")
    assert code == 0
    answer, sources = out.split("Sources:", 1)
    assert "[1]" in answer
    assert "[1] Escalating Tensions" in sources and "BNN Newsroom" in sources and "2023-12-31" in sources
    assert "21 of the 49 drones" in sources


def test_ask_filters(seed_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(seed_settings.data_dir)
    _, out, _ = run(
        capsys,
        "ask",
        "What happened in Kharkiv?",
        "--json",
        "--data-dir",
        d,
        "--since",
        "2024-01-01",
        "--drop-undated",
    )
    assert {h["article_id"] for h in json.loads(out)["trace"]["hits"]} == {"001_e71635c8b88c33de"}
    _, out, _ = run(
        capsys, "ask", "What happened in Kharkiv?", "--json", "--data-dir", d, "--source", "DW News"
    )
    assert {h["article_id"] for h in json.loads(out)["trace"]["hits"]} == {"000_a718a404f4b4bf82"}
    _, out, _ = run(
        capsys,
        "ask",
        "What happened in Kharkiv?",
        "--json",
        "--data-dir",
        d,
        "--until",
        "2023-12-31",
        "--drop-undated",
    )
    assert {h["article_id"] for h in json.loads(out)["trace"]["hits"]} == {"002_88f33951d7bac3d7"}


def test_batch_mode_keeps_order_and_ids(seed_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "--questions", str(ROOT / "evals/questions/seed_dev.jsonl"), "--json",
                       "--data-dir", str(seed_settings.data_dir))  # fmt: skip
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["question_id"] for r in rows] == [f"dev-{i:02d}" for i in range(1, 13)]
    assert rows[-1]["abstained"] and not rows[0]["abstained"]


def test_bad_input_gets_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ask", "anything", "--data-dir", str(tmp_path / "none"))
    assert code == 2 and "no index" in err and "rag ingest" in err
    with pytest.raises(SystemExit):
        main(["ask", "q", "--since", "31/12/2023"])
    assert "YYYY-MM-DD" in capsys.readouterr().err
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "ok"}\n{"id": "x"}\n')
    code, _, err = run(capsys, "ask", "--questions", str(bad), "--data-dir", str(tmp_path / "none"))
    assert code == 2


def test_stats(seed_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stats", "--json", "--data-dir", str(seed_settings.data_dir))
    s = json.loads(out)
    assert code == 0 and s["articles"] == 3 and s["chunks"] == s["vectors"] > 0
    assert s["outlets"] == ["BNN Newsroom", "DW News"] and s["date_range"] == ["2023-12-31", "2025-11-11"]
    assert s["embed_model"] == "sentence-transformers/all-MiniLM-L6-v2" and s["size_mb"] > 0
    code, out, _ = run(capsys, "stats", "--data-dir", str(seed_settings.data_dir))
    assert "articles" in out and "BNN Newsroom" in out and "store" in out


def test_console_script_help_explains(tmp_path: Path) -> None:
    rag = ROOT / ".venv" / "bin" / "rag"
    out = subprocess.run([str(rag), "ask", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--since" in out.stdout and "[n]" in out.stdout
