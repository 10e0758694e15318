"""Eval suites: a TOML file naming question sets and their corpora, and the seeded CI sample.

A suite file (paths are relative to the file)::

    name = "default"
    [[sets]]
    name = "squad2"
    questions = "../sets/squad2/questions.jsonl"
    corpus = "../sets/squad2/corpus.jsonl"
    description = "SQuAD 2.0: near-miss unanswerable questions"   # optional

>>> suite = load_suite(DEFAULT_SUITE)
>>> [s.name for s in suite.sets][:3]
['seed_dev', 'seed_extra', 'squad2']
"""

from __future__ import annotations

import random
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.questions import Question
from rag.errors import RagError

SUITES_DIR = Path(__file__).resolve().parent / "suites"
DEFAULT_SUITE = SUITES_DIR / "default.toml"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SET_FIELDS = {"name", "questions", "corpus", "description"}
_TOP_FIELDS = {"name", "description", "sets"}


class SuiteFileError(RagError):
    """A suite file is missing, not TOML, or has a bad field. Seen by whoever wrote the file."""


@dataclass(frozen=True)
class SuiteSet:
    """One question set of a suite and the corpus its questions are asked over."""

    name: str
    questions: Path
    corpus: Path
    description: str = ""


@dataclass(frozen=True)
class Suite:
    """A named list of question sets, loaded from `path`."""

    path: Path
    name: str
    sets: tuple[SuiteSet, ...]
    description: str = ""

    def select(self, names: Sequence[str]) -> Suite:
        """Only the named sets, in the suite's order; SuiteFileError naming the unknown ones.

        >>> [s.name for s in load_suite(DEFAULT_SUITE).select(["ramdocs", "squad2"]).sets]
        ['squad2', 'ramdocs']
        """
        known = [s.name for s in self.sets]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SuiteFileError(
                f"{self.path}: no set named {', '.join(map(repr, unknown))}; the suite has: {', '.join(known)}"
            )
        wanted = set(names)
        return Suite(self.path, self.name, tuple(s for s in self.sets if s.name in wanted), self.description)


def load_suite(path: Path) -> Suite:
    """Read and check a suite file; SuiteFileError names the file, the set and the field."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SuiteFileError(f"{path}: cannot read suite file: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise SuiteFileError(f"{path}: not valid TOML: {e}") from None
    extra = set(raw) - _TOP_FIELDS
    if extra:
        raise SuiteFileError(
            f"{path}: unknown field(s) {', '.join(sorted(extra))}; a suite has {', '.join(sorted(_TOP_FIELDS))}"
        )
    sets = raw.get("sets")
    if not isinstance(sets, list) or not sets or not all(isinstance(s, dict) for s in sets):
        raise SuiteFileError(f"{path}: field 'sets': expected one or more [[sets]] tables")
    out: list[SuiteSet] = []
    for i, entry in enumerate(sets):
        s = _parse_set(path, i, entry)
        if any(o.name == s.name for o in out):
            raise SuiteFileError(f"{path}: sets[{i}]: field 'name': duplicate set name {s.name!r}")
        out.append(s)
    return Suite(
        path, _text(path, "", raw, "name") or path.stem, tuple(out), _text(path, "", raw, "description")
    )


def _parse_set(path: Path, i: int, entry: dict[str, Any]) -> SuiteSet:
    where = f"sets[{i}]" + (f" ({entry['name']!r})" if isinstance(entry.get("name"), str) else "")
    extra = set(entry) - _SET_FIELDS
    if extra:
        raise SuiteFileError(
            f"{path}: {where}: unknown field(s) {', '.join(sorted(extra))}; "
            f"a set has {', '.join(sorted(_SET_FIELDS))}"
        )
    for name in ("name", "questions", "corpus"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise SuiteFileError(f"{path}: {where}: field {name!r}: required, a non-empty string")
    if not _NAME.match(entry["name"]):
        raise SuiteFileError(
            f"{path}: {where}: field 'name': use letters, digits, '_', '-' or '.', got {entry['name']!r}"
        )
    base = path.resolve().parent
    questions, corpus = (base / entry["questions"]).resolve(), (base / entry["corpus"]).resolve()
    if not questions.is_file():
        raise SuiteFileError(f"{path}: {where}: field 'questions': no such file: {questions}")
    if not corpus.exists():
        raise SuiteFileError(f"{path}: {where}: field 'corpus': no such file or folder: {corpus}")
    return SuiteSet(entry["name"], questions, corpus, _text(path, where, entry, "description"))


def _text(path: Path, where: str, table: dict[str, Any], name: str) -> str:
    value = table.get(name, "")
    if not isinstance(value, str):
        prefix = f"{where}: " if where else ""
        raise SuiteFileError(f"{path}: {prefix}field {name!r}: expected a string, got {value!r}")
    return value


def sample_questions(questions: Sequence[Question], n: int, seed: int, salt: str = "") -> list[Question]:
    """A fixed sample of `n` questions, stratified answerable/unanswerable, in file order.

    Each stratum keeps its share of the set (at least one unanswerable when the set has any and
    n >= 2). The choice depends only on the question ids, `seed` and `salt` (the set's name), so
    the same call picks the same questions on every machine.

    >>> qs = [Question(f"q{i}", "?", answerable=i % 4 != 0) for i in range(20)]
    >>> picked = sample_questions(qs, 8, seed=0, salt="demo")
    >>> len(picked), sum(not q.answerable for q in picked), picked == sample_questions(qs, 8, 0, "demo")
    (8, 2, True)
    """
    if n < 1:
        raise ValueError(f"sample size must be at least 1, got {n}")
    if n >= len(questions):
        return list(questions)
    ans = sorted((q for q in questions if q.answerable), key=lambda q: q.id)
    una = sorted((q for q in questions if not q.answerable), key=lambda q: q.id)
    n_una = round(n * len(una) / len(questions))
    if una and n_una == 0 and n >= 2:
        n_una = 1
    n_una = min(n_una, len(una))
    n_ans = min(n - n_una, len(ans))
    n_una = min(n - n_ans, len(una))
    rng = random.Random(f"{seed}:{salt}")
    chosen = {q.id for q in rng.sample(ans, n_ans)} | {q.id for q in rng.sample(una, n_una)}
    return [q for q in questions if q.id in chosen]


def find_suite(name_or_path: str) -> Path:
    """A suite file from a path, or from a name in evals/suites/ ("default" -> default.toml).

    >>> find_suite("default") == DEFAULT_SUITE
    True
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    named = SUITES_DIR / f"{name_or_path}.toml"
    if named.is_file():
        return named
    known = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.toml")))
    raise SuiteFileError(f"no suite file {name_or_path!r}: give a .toml path or one of: {known}")
