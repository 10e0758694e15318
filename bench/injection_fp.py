"""The injection detector's false-positive rate on clean corpora: every sentence of the sample corpus
and of the eval sets' corpora is checked; each flag is printed so a person can judge it. Also its
cost, against the sentence splitting that ingest already does on the same texts (the baseline).

    python -m bench.injection_fp            # data/corpus and evals/sets/*/corpus.jsonl
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from index.readers import read_file
from rag.injection import injection_reason
from rag.sentences import split_sentences

TIMES = {"split": 0.0, "detect": 0.0}


def scan(paths: list[Path]) -> tuple[int, int, list[tuple[str, str, str]]]:
    """(articles, sentences, flags as (article id, reason, sentence))."""
    articles = sentences = 0
    flags: list[tuple[str, str, str]] = []
    for path in paths:
        for a in read_file(path, root=path.parent).articles:
            articles += 1
            t0 = time.perf_counter()
            spans = split_sentences(a.text)
            t1 = time.perf_counter()
            found = [(span, injection_reason(a.text[span.start : span.end])) for span in spans]
            TIMES["split"] += t1 - t0
            TIMES["detect"] += time.perf_counter() - t1
            sentences += len(spans)
            for span, why in found:
                if why is not None:
                    text = a.text[span.start : span.end]
                    flags.append((a.id, why, " ".join(text.split())[:200]))
    return articles, sentences, flags


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(".")
    groups = {"data/corpus": sorted((root / "data/corpus").glob("*.txt"))}
    for p in sorted((root / "evals/sets").glob("*/corpus.jsonl")):
        groups[str(p.relative_to(root))] = [p]
    total_s = total_f = 0
    for name, paths in groups.items():
        articles, sentences, flags = scan(paths)
        total_s += sentences
        total_f += len(flags)
        print(
            f"{name}: {articles} articles, {sentences} sentences, {len(flags)} flagged ({len(flags) / max(sentences, 1):.4%})"
        )
        for aid, why, text in flags:
            print(f"    {aid}: {why}: {text}")
    print(f"all: {total_s} sentences, {total_f} flagged ({total_f / max(total_s, 1):.4%})")
    split, detect = TIMES["split"], TIMES["detect"]
    print(
        f"cost: detector {detect:.2f} s ({detect / max(total_s, 1) * 1e6:.1f} µs/sentence); sentence "
        f"splitting (baseline) {split:.2f} s; detector/splitting = {detect / max(split, 1e-9):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
