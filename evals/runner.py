"""`rag eval`: index a corpus into its own store, answer every question, score, report, gate.

>>> from pathlib import Path
>>> from functools import partial
>>> from index.ingest import ingest_paths  # doctest: +SKIP
>>> result = run_eval(Path("evals/questions/seed_dev.jsonl"), Path("data/corpus"), Path("out/eval"),
...                   Settings.from_env(), partial(ingest_paths, progress=False))  # doctest: +SKIP
>>> result.exit_code, result.summary["answer_accuracy"]  # doctest: +SKIP
(0, 0.9)

The eval index lives in `<settings.data_dir.parent>/eval-index/<key>`, where key hashes the corpus's
absolute path and the settings that change what is stored (model, runtime, chunking). Re-running on
an unchanged corpus reuses it (ingestion is incremental); a sweep over `k` shares one index, a sweep
over `chunk_size` builds one per value.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evals.gate import Regression, compare
from evals.judge import judge_records, skip_reason
from evals.questions import Question, load_questions
from evals.report import write_reports
from evals.scoring import score_question, summarise
from rag.embedding import ingest_runtime
from rag.errors import ConfigError
from rag.settings import Settings
from rag.types import IngestReport

Ingest = Callable[[Sequence[Path], Settings], IngestReport]
# Settings that change what the index holds: a different value needs a different index.
INDEX_KEYS = ("embed_model", "embed_runtime", "chunk_size", "chunk_overlap", "embed_context", "chroma_url")


@dataclass
class EvalResult:
    """What one eval run produced: its summary, the gate's regressions and where the files are."""

    summary: dict[str, Any]
    regressions: list[Regression]
    out_dir: Path
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def exit_code(self) -> int:
        """1 when the gate found a regression (the CLI's exit status), else 0."""
        return 1 if self.regressions else 0

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"

    @property
    def report_md(self) -> Path:
        return self.out_dir / "report.md"


def index_key(corpus: Path, settings: Settings) -> str:
    """Hash of the corpus's absolute path and the index-shaping settings."""
    parts = {"corpus": str(corpus.resolve()), **{k: str(getattr(settings, k)) for k in INDEX_KEYS}}
    # resolved: "auto" differs between CPUs and corpus sizes
    parts["ingest_runtime"] = ingest_runtime(settings, _corpus_bytes(corpus))
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _corpus_bytes(corpus: Path) -> int:
    files = [corpus] if corpus.is_file() else [p for p in corpus.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files)


def eval_settings(corpus: Path, settings: Settings) -> Settings:
    """`settings` pointed at the eval's own, stable index for this corpus."""
    key = index_key(corpus, settings)
    changes: dict[str, Any] = {"data_dir": settings.data_dir.parent / "eval-index" / key}
    if settings.chroma_url:
        # On a shared server the data dir does not separate stores; the collection name must.
        changes["collection"] = f"eval-{key}"
    return settings.replace(**changes)


def corpus_fingerprint(corpus: Path) -> tuple[str, int]:
    """(sha256 prefix over every file's relative path and bytes, number of files)."""
    files = [corpus] if corpus.is_file() else sorted(p for p in corpus.rglob("*") if p.is_file())
    files = [p for p in files if not any(part.startswith(".") for part in p.relative_to(corpus.parent).parts)]
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(corpus if corpus.is_dir() else corpus.parent).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:16], len(files)


def load_baseline(path: Path) -> dict[str, Any]:
    """A committed summary.json to gate against; ConfigError when missing or not a summary."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read baseline {path}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"baseline {path} is not JSON: {e.msg} (line {e.lineno})") from None
    if not isinstance(data, dict) or "answer_accuracy" not in data:
        raise ConfigError(f"baseline {path} is not a summary.json (no 'answer_accuracy' key)")
    return data


def answer_all(
    pipeline: Any, questions: Sequence[Question], k: int, progress: bool = True, desc: str = "eval"
) -> list[dict[str, Any]]:
    """Ask every question through `pipeline` and score it; article texts come from pipeline.article()."""
    texts: dict[str, str | None] = {}

    def article_text(article_id: str) -> str | None:
        if article_id not in texts:
            art = pipeline.article(article_id)
            texts[article_id] = art.text if art is not None else None
        return texts[article_id]

    records = []
    for q in tqdm(questions, desc=desc, unit="q", disable=not progress):
        t0 = time.perf_counter()
        answer = pipeline.ask(q.question)
        total_ms = (time.perf_counter() - t0) * 1000
        records.append(score_question(q, answer, article_text, total_ms, k))
    return records


def run_eval(
    questions: Path,
    corpus: Path,
    out: Path,
    settings: Settings,
    ingest: Ingest,
    baseline: Path | None = None,
    progress: bool = True,
) -> EvalResult:
    """Index `corpus`, answer `questions`, write per_question.jsonl, summary.json, report.md/.html into `out`."""
    qs = load_questions(questions)
    if not corpus.exists():
        raise ConfigError(f"corpus not found: {corpus}")
    base = load_baseline(baseline) if baseline is not None else None  # fail before the long part
    es = eval_settings(corpus, settings)
    fingerprint, n_files = corpus_fingerprint(corpus)
    ingested = ingest([corpus], es)

    from rag.pipeline import build_pipeline  # late: it loads the model stack

    pipeline = build_pipeline(es)
    try:
        records = answer_all(pipeline, qs, es.k, progress)
    finally:
        close = getattr(pipeline, "close", None)
        if callable(close):
            close()
    reason = skip_reason(es)
    if reason is None:
        judge_records(records, es, progress)

    summary = summarise(records, judged=reason)
    regressions = compare(summary, base) if base is not None else []
    summary.update(
        {
            "k": es.k,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "questions": {"path": str(questions), "n": len(qs), "sha256": file_sha(questions)},
            "corpus": corpus_info(corpus, fingerprint, n_files, ingested, es),
            "settings": es.public(),
            "baseline": str(baseline) if baseline is not None else None,
            "gate": ("fail" if regressions else "pass") if base is not None else "no baseline",
            "regressions": [str(r) for r in regressions],
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    with (out / "per_question.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    write_reports(out, summary, records, base, regressions)
    return EvalResult(summary, regressions, out, records)


def corpus_info(
    corpus: Path, fingerprint: str, n_files: int, ingested: IngestReport, es: Settings
) -> dict[str, Any]:
    """summary.json's "corpus" block: what was indexed, where, and what the ingest did."""
    return {
        "path": str(corpus),
        "fingerprint": fingerprint,
        "files": n_files,
        "articles": ingested.articles_total,
        "chunks": ingested.chunks_total,
        "index_dir": str(es.data_dir),
        "ingest": {
            "indexed": ingested.count("indexed") + ingested.count("updated"),
            "unchanged": ingested.count("unchanged"),
            "failed": [f"{f.path}: {f.reason}" for f in ingested.files if f.status == "failed"],
            "texts_embedded": ingested.texts_embedded,
            "seconds": round(ingested.seconds, 2),
        },
    }


def latest_report(out_root: Path) -> Path | None:
    """The newest report.html at or under `out_root` (report.md sits beside it), or None."""
    if not out_root.is_dir():
        return None
    reports = [p for p in out_root.rglob("report.html") if p.is_file()]
    return max(reports, key=lambda p: p.stat().st_mtime, default=None)


def file_sha(path: Path) -> str:
    """sha256 prefix of a file's bytes (which question file a summary was made from)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
