"""Sweep retrieval fusion over every set of the suite together (one choice for all sets, never per set).

    .venv/bin/python -m evals.fusion_sweep --out build/sweeps/fusion.csv

For each configuration (fusion, dense weight, phrase weight) every question of every set is
retrieved through the product's own retriever; article-level hit@1 and hit@5 and passage-level
hit@5 (a top-5 passage holds a key fact) are printed per set, with the mean over sets.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from evals.fit_data import SUITE
from evals.metrics import fact_present
from evals.questions import load_questions
from evals.runner import eval_settings
from evals.suite import load_suite
from rag.settings import Settings

CONFIGS = [("rrf", 0.5, 0.0), ("rrf", 0.7, 0.0)] + [
    ("weighted", w, p) for w in (0.5, 0.6, 0.65, 0.7, 0.8) for p in (0.0, 0.4)
]


def sweep(settings: Settings) -> list[dict[str, object]]:
    from index.ingest import ingest_paths
    from rag.pipeline import build_pipeline

    rows: list[dict[str, object]] = []  # one per set and configuration
    for s in load_suite(SUITE).sets:
        es = eval_settings(s.corpus, settings)
        ingest_paths([s.corpus], es, progress=False)
        qs = [q for q in load_questions(s.questions) if q.sources]
        with build_pipeline(es) as pipeline:
            for fusion, weight, phrase in tqdm(CONFIGS, desc=s.name, unit="config"):
                pipeline.retriever.settings = es.replace(
                    fusion=fusion, dense_weight=weight, phrase_weight=phrase
                )
                h1 = h5 = p5 = n_facts = 0
                for q in qs:
                    hits = pipeline.retriever.search(pipeline.plan(q.question)).hits
                    arts = [h.chunk.article_id for h in hits]
                    h1 += bool(arts) and arts[0] in q.sources
                    h5 += any(a in q.sources for a in arts[:5])
                    if q.key_facts:
                        n_facts += 1
                        p5 += any(fact_present(q.key_facts[0], h.chunk.text) for h in hits[:5])
                rows.append({"set": s.name, "fusion": fusion, "dense_weight": weight, "phrase_weight": phrase,
                             "hit_at_1": round(h1 / len(qs), 3), "hit_at_5": round(h5 / len(qs), 3),
                             "passage_hit_at_5": round(p5 / max(n_facts, 1), 3)})  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.fusion_sweep", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("build/sweeps/fusion.csv"), help="CSV of every row")
    args = ap.parse_args(argv)
    rows = sweep(Settings.from_env(ingest_runtime="onnx-int8"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    sets = list(dict.fromkeys(str(r["set"]) for r in rows))
    print(
        "| fusion | dense w | phrase w | "
        + " | ".join(sets)
        + " | mean hit@1 | mean hit@5 | mean passage@5 |"
    )
    print("|---" * (len(sets) + 6) + "|")
    for fusion, weight, phrase in CONFIGS:
        mine = [
            r
            for r in rows
            if (r["fusion"], r["dense_weight"], r["phrase_weight"]) == (fusion, weight, phrase)
        ]
        cells = [f"{r['hit_at_1']:.2f}/{r['hit_at_5']:.2f}" for r in mine]
        mean = [
            sum(float(str(r[k])) for r in mine) / len(mine)
            for k in ("hit_at_1", "hit_at_5", "passage_hit_at_5")
        ]
        print(
            f"| {fusion} | {weight} | {phrase} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(f"{m:.3f}" for m in mean)
            + " |"
        )
    print(f"rows: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
