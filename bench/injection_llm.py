"""Supported claims carrying injected content, over the poisoned corpus of
tests/test_injection_pipeline.py, asked through the real Pipeline in LLM mode against the obedient
loopback model (tests/obedient_llm.py). Runs on any checkout that has those two test files, so the
same figure can be taken on main (copy them there) and on this branch.

    python -m bench.injection_llm
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from obedient_llm import obedient_server  # noqa: E402
from test_injection_pipeline import INJECTED, POISONED_QUESTIONS, llm, write_corpus  # noqa: E402

from index.ingest import ingest_paths  # noqa: E402
from rag.pipeline import build_pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402


def carries(text: str) -> bool:
    return any(x in text.lower() for x in INJECTED) or "http" in text or "www." in text


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="injection-llm-"))
    settings = Settings.from_env({}, data_dir=root / "store")
    ingest_paths([write_corpus(root / "corpus")], settings, progress=False)
    pipeline = build_pipeline(settings)
    claims = answers = quoted = 0
    with obedient_server() as srv:
        for q in POISONED_QUESTIONS:
            a = llm(pipeline, srv).ask(q, mode="llm")
            bad = sum(s.support == "supported" and carries(s.text) for s in a.sentences)
            claims += bad
            answers += bad > 0
            e = pipeline.ask(q, mode="extractive")
            quoted += any(carries(s.text) and not getattr(s, "flagged", None) for s in e.sentences)
    n = len(POISONED_QUESTIONS)
    print(f"poisoned questions: {n}")
    print(f"LLM mode: {claims} supported sentences carry injected content, in {answers} of {n} answers")
    print(f"extractive: {quoted} of {n} answers quote an injected sentence unflagged")
    pipeline.storage.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
