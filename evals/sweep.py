"""`rag eval --sweep name=v1,v2 ...`: run the grid of settings and compare the runs in one table and plot."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import re
from pathlib import Path
from typing import Any

from evals.plots import sweep_chart
from evals.runner import Ingest, run_eval
from evals.scoring import LATENCY_KEYS, SCORE_KEYS
from rag.errors import ConfigError
from rag.settings import Settings

PLOTTED = (
    "answer_accuracy",
    "key_fact_recall",
    "hit_at_1",
    "mrr",
    "abstention_recall",
    "false_abstention_rate",
)
_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
# Secrets and where-things-live are not knobs to sweep.
_NOT_SWEEPABLE = {"data_dir", "model_cache_dir", "llm_api_key", "ui_password", "collection", "chroma_url"}


def parse_sweep_args(values: list[str]) -> dict[str, list[str]]:
    """Turn repeated `--sweep name=v1,v2` flags into {name: [v1, v2]}; ConfigError on a bad flag.

    >>> parse_sweep_args(["chunk_size=128,256", "k=3"])
    {'chunk_size': ['128', '256'], 'k': ['3']}
    """
    grid: dict[str, list[str]] = {}
    for raw in values:
        name, sep, rest = raw.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--sweep wants NAME=V1,V2,..., got {raw!r}")
        if name not in _FIELDS or name in _NOT_SWEEPABLE:
            raise ConfigError(f"--sweep: unknown setting {name!r}; sweepable: {', '.join(sweepable())}")
        if name in grid:
            raise ConfigError(f"--sweep: {name!r} given twice; list its values once: {name}=V1,V2")
        vals = [v.strip() for v in rest.split(",") if v.strip()]
        if not vals:
            raise ConfigError(f"--sweep {name}: no values after '='")
        grid[name] = vals
    return grid


def sweepable() -> list[str]:
    """Names of the settings a sweep may vary."""
    return [n for n in _FIELDS if n not in _NOT_SWEEPABLE]


def coerce_setting(name: str, raw: str) -> Any:
    """Parse a sweep value by the Settings field's type.

    >>> coerce_setting("k", "8"), coerce_setting("dense_weight", "0.5"), coerce_setting("llm_backend", "none")
    (8, 0.5, None)
    """
    if name not in _FIELDS:
        raise ConfigError(f"unknown setting {name!r}")
    typ = str(_FIELDS[name].type)
    if "None" in typ and raw.lower() in ("none", "null"):
        return None
    try:
        if typ.startswith("bool"):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes", "on")
        if typ.startswith("int"):
            return int(raw)
        if typ.startswith("float"):
            return float(raw)
        if typ.startswith("Path"):
            return Path(raw)
    except ValueError:
        raise ConfigError(f"--sweep {name}: {raw!r} is not a valid {typ}") from None
    return raw


def combinations(settings: Settings, grid: dict[str, list[str]]) -> list[tuple[dict[str, Any], Settings]]:
    """Every combination of the grid as (changes, settings); all are validated before any run starts."""
    parsed = {name: [coerce_setting(name, v) for v in vals] for name, vals in grid.items()}
    out = []
    for values in itertools.product(*parsed.values()):
        combo = dict(zip(parsed.keys(), values, strict=True))
        try:
            out.append((combo, settings.replace(**combo)))
        except ConfigError as e:
            raise ConfigError(f"--sweep {label(combo)}: {e}") from None
    return out


def label(combo: dict[str, Any]) -> str:
    """A combination as text, e.g. 'chunk_size=128 k=3'.

    >>> label({"chunk_size": 128, "k": 3})
    'chunk_size=128 k=3'
    """
    return " ".join(f"{k}={v}" for k, v in combo.items())


def run_sweep(
    questions: Path,
    corpus: Path,
    out: Path,
    settings: Settings,
    ingest: Ingest,
    grid: dict[str, list[str]],
    progress: bool = True,
) -> Path:
    """Run one eval per grid combination into out/<combo>/, then write sweep.md, sweep.csv, sweep.png."""
    combos = combinations(settings, grid)
    rows: list[dict[str, Any]] = []
    for combo, s in combos:
        sub = out / re.sub(r"[^\w.=-]+", "_", label(combo).replace(" ", "__"))
        result = run_eval(questions, corpus, sub, s, ingest, progress=progress)
        row: dict[str, Any] = {**combo, "run": sub.name}
        row.update({k: result.summary.get(k) for k in (*SCORE_KEYS, *LATENCY_KEYS)})
        rows.append(row)
    out.mkdir(parents=True, exist_ok=True)
    names = list(grid)
    columns = [
        *names,
        *(k for k in (*SCORE_KEYS, *LATENCY_KEYS) if any(r[k] is not None for r in rows)),
        "run",
    ]
    with (out / "sweep.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    labels = [label({n: r[n] for n in names}) for r in rows]
    chart = sweep_chart(rows, labels, [m for m in PLOTTED if m in columns], out / "sweep.png")
    md = out / "sweep.md"
    md.write_text(_markdown(rows, columns, names, chart.name), encoding="utf-8")
    return md


def _markdown(rows: list[dict[str, Any]], columns: list[str], names: list[str], chart: str) -> str:
    best = {c: _best(rows, c) for c in columns if c not in names and c != "run"}
    lines = [
        "# Eval sweep",
        "",
        f"Grid: {', '.join(names)}; {len(rows)} runs. Best value per metric in bold.",
        "",
    ]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            if c == "run":
                cells.append(f"[{v}]({v}/report.md)")
            elif c in names or v is None:
                cells.append("-" if v is None else str(v))
            else:
                text = f"{v:.0f}" if c.endswith("_ms") else f"{v:.3f}"
                cells.append(f"**{text}**" if v == best.get(c) and len(rows) > 1 else text)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"![Sweep]({chart})", ""]
    return "\n".join(lines)


def _best(rows: list[dict[str, Any]], column: str) -> float | None:
    vals = [r[column] for r in rows if r.get(column) is not None]
    if not vals:
        return None
    lower_better = column.endswith("_ms") or column == "false_abstention_rate"
    return min(vals) if lower_better else max(vals)
