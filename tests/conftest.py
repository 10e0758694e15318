"""Shared fixtures: real components, loaded once per session.

Every test gets its own RAG_DATA_DIR in a temp dir and a clean RAG_* environment, so nothing
touches the user's store or picks up their configuration.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "data" / "corpus"
DEV_QUESTIONS = ROOT / "evals" / "questions" / "seed_dev.jsonl"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("RAG_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "store"))


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a store holding the three seed articles (built once per session)."""
    from index.ingest import ingest_paths

    corpus = tmp_path_factory.mktemp("corpus")
    for f in SEED_CORPUS.iterdir():
        shutil.copy(f, corpus / f.name)
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("seed") / "store")
    report = ingest_paths([corpus], settings, progress=False)
    assert report.ok and report.articles_total == 3
    return settings


@pytest.fixture(scope="session")
def seed_pipeline(seed_settings: Settings) -> Iterator[object]:
    from rag.pipeline import build_pipeline

    pipeline = build_pipeline(seed_settings)
    yield pipeline
    pipeline.storage.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium (never `playwright install`), launched once per browser-test module."""
    from browser_helpers import chromium

    with chromium() as b:
        yield b
