"""Small CLI defects from a day of use: blank questions, typos after a subcommand, broken pipes,
a busy port, outlet names as people type them, filters named when nothing matched, design.md."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import main
from rag.settings import Settings, default_data_dir

ROOT = Path(__file__).resolve().parent.parent
RAG = str(ROOT / ".venv" / "bin" / "rag")
Q = "How many drones did Ukrainian air defenses shoot down over Kharkiv?"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_blank_question_gets_the_same_message_as_an_empty_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path / "none")
    empty = run(capsys, "ask", "", "--data-dir", d)
    blank = run(capsys, "ask", "   ", "--data-dir", d)
    assert empty == blank and empty[0] == 2 and "give a QUESTION" in empty[2]


def test_a_mistyped_flag_is_reported_with_the_subcommands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["ask", "q", "--sinse", "2024-01-01"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("usage: rag ask") and "--sinse" in err and "did you mean --since?" in err


def test_a_closed_pipe_ends_quietly(seed_settings: Settings) -> None:
    env = {**os.environ, "RAG_DATA_DIR": str(seed_settings.data_dir)}
    qs = "\n".join(f'{{"question": "{Q}"}}' for _ in range(40))
    out = subprocess.run(
        ["sh", "-c", f"printf '%s' '{qs}' > q.jsonl && {RAG} ask --questions q.jsonl | head -c 20"],
        capture_output=True, text=True, env=env, timeout=180, cwd=seed_settings.data_dir.parent,
    )  # fmt: skip
    assert len(out.stdout) == 20
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr


def test_a_busy_port_is_named_without_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run(
            [RAG, "serve", "--port", str(port), "--data-dir", str(tmp_path / "store")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert out.returncode == 2
    assert f"port {port} is in use; pass --port N" in out.stderr
    assert "Traceback" not in out.stderr and "GRADIO_SERVER_PORT" not in out.stderr


def test_source_matches_outlets_by_prefix_and_names_them_when_none_does(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    d = str(seed_settings.data_dir)
    code, out, err = run(
        capsys, "ask", "What happened in Kharkiv?", "--json", "--data-dir", d, "--source", "dw"
    )
    assert code == 0 and "--source matched DW News" in err
    assert {h["article_id"] for h in json.loads(out)["trace"]["hits"]} == {"000_a718a404f4b4bf82"}
    code, _, err = run(capsys, "ask", "What happened?", "--data-dir", d, "--source", "Reuters")
    assert code == 2 and "no indexed outlet matches 'Reuters'" in err and "'BNN Newsroom', 'DW News'" in err
    code, _, err = run(capsys, "ask", "x", "--data-dir", d, "--since", "2024-02-01", "--until", "2024-01-01")
    assert code == 2 and "--since 2024-02-01 is after --until 2024-01-01" in err


def test_an_abstention_under_filters_says_which_and_how_to_widen(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(seed_settings.data_dir)
    code, out, _ = run(capsys, "ask", Q, "--data-dir", d, "--source", "dw news", "--since", "2025-01-01",
                       "--drop-undated")  # fmt: skip
    assert code == 0 and "do not contain an answer" in out
    assert (
        "Filters applied: since 2025-01-01, outlet DW News, undated articles left out." in out
        and "without them" in out
    )
    _, out, _ = run(capsys, "ask", "Who won the 2024 Eurovision Song Contest?", "--data-dir", d)
    assert "Filters applied" not in out


def test_design_md_is_in_the_project_where_help_and_readme_point() -> None:
    design = ROOT / "docs" / "design.md"
    assert design.is_file() and "Interface contract" in design.read_text()
    help_ = subprocess.run([RAG, "eval", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "docs/design.md" in help_
    readme = (ROOT / "README.md").read_text()
    assert "docs/design.md" in readme and "(contract in design)" not in readme


def test_default_data_dir_is_the_current_directory_not_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_data_dir() == tmp_path / "data" / "store"
    assert Settings.from_env({}).data_dir == tmp_path / "data" / "store"
    assert Settings.from_env({"RAG_DATA_DIR": "/srv/x"}).data_dir == Path("/srv/x")
    assert Settings.from_env({"RAG_UI_TITLE": "Flood archive"}).ui_title == "Flood archive"
    assert "site-packages" not in str(Settings().data_dir) and sys.prefix not in str(Settings().data_dir)
