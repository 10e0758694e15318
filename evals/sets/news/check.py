"""Audit the news dev set: every key fact is where the questions say it is, and `latest` needs the newest figure.

Run from the project root: `.venv/bin/python evals/sets/news/check.py` (exit status 1 and one line per
problem when something is wrong). Matching uses the scorer's own `fact_present`, so a fact that passes
here is one a correct answer can be credited for.

Article ids are `<story>-NN`; the story is everything before the last dash.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from evals.metrics import fact_present

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.jsonl"
QUESTIONS = HERE / "questions.jsonl"

# The minimums the set was written to (issue 10 §4).
MIN_KINDS = {
    "latest": 7,
    "as_of": 6,
    "timeline": 5,
    "conflict": 5,
    "factoid": 8,
    "overview": 4,
    "unanswerable": 6,
}
MIN_ARTICLES, MIN_OUTLETS, MIN_STORIES, MIN_QUESTIONS = 36, 4, 3, 40
ARTICLE_FIELDS = {"id", "title", "source", "date", "url", "language", "text", "byline"}
# Short syndicated copies are allowed below the 150-word floor of a full article.
MIN_WORDS, MAX_WORDS = 80, 600


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def story(article_id: str) -> str:
    """`orrin-07` -> `orrin`."""
    return article_id.rsplit("-", 1)[0]


def published(article: dict[str, Any]) -> date | None:
    return date.fromisoformat(article["date"]) if article.get("date") else None


def check_corpus(articles: list[dict[str, Any]]) -> list[str]:
    problems = []
    ids = Counter(a["id"] for a in articles)
    problems += [f"corpus: duplicate id {i!r}" for i, n in ids.items() if n > 1]
    for a in articles:
        where = f"corpus {a.get('id')!r}"
        if unknown := set(a) - ARTICLE_FIELDS:
            problems.append(f"{where}: unknown fields {sorted(unknown)}")
        for field in ("id", "title", "source", "language", "text"):
            if not a.get(field):
                problems.append(f"{where}: missing {field!r}")
        if a.get("date") and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", a["date"]):
            problems.append(f"{where}: date {a['date']!r} is not YYYY-MM-DD")
        words = len(a.get("text", "").split())
        if not MIN_WORDS <= words <= MAX_WORDS:
            problems.append(f"{where}: {words} words, want {MIN_WORDS}-{MAX_WORDS}")
    if len(articles) < MIN_ARTICLES:
        problems.append(f"corpus: {len(articles)} articles, want at least {MIN_ARTICLES}")
    if len({a["source"] for a in articles}) < MIN_OUTLETS:
        problems.append(f"corpus: fewer than {MIN_OUTLETS} outlets")
    if len({story(a["id"]) for a in articles}) < MIN_STORIES:
        problems.append(f"corpus: fewer than {MIN_STORIES} stories")
    undated = sum(1 for a in articles if not a.get("date"))
    if not 2 <= undated <= 3:
        problems.append(f"corpus: {undated} undated articles, want 2-3")
    return problems


def in_any(fact: str, texts: list[str]) -> bool:
    return any(fact_present(fact, t) for t in texts)


def check_question(q: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[str]:
    where = f"question {q['id']}"
    problems = []
    if not q["answerable"]:
        if q["key_facts"] or q["sources"] or q["kind"] != "unanswerable":
            problems.append(f"{where}: unanswerable needs kind 'unanswerable', no key facts, no sources")
        return problems
    if not q["key_facts"] or not q["sources"]:
        return [f"{where}: answerable question without key facts or sources"]
    missing = [s for s in q["sources"] if s not in by_id]
    if missing:
        return [f"{where}: sources not in the corpus: {missing}"]
    texts = [by_id[s]["text"] for s in q["sources"]]
    for fact in q["key_facts"]:
        if not in_any(fact, texts):
            problems.append(f"{where}: key fact {fact!r} is in none of its sources")
    for value in q.get("conflict_values", []):
        if not in_any(value, texts):
            problems.append(f"{where}: conflict value {value!r} is in none of its sources")
        if not any(fact_present(value, f.replace("|", " ")) for f in q["key_facts"]):
            problems.append(f"{where}: conflict value {value!r} is not among the key facts")
    if q["kind"] == "conflict" and len(q.get("conflict_values", [])) < 2:
        problems.append(f"{where}: a conflict question needs at least two conflict_values")
    if q["kind"] == "latest":
        problems += check_latest(q, by_id, where)
    if q["kind"] == "as_of":
        problems += check_as_of(q, by_id, where)
    return problems


def check_latest(q: dict[str, Any], by_id: dict[str, dict[str, Any]], where: str) -> list[str]:
    """No article of the story older than the answer's first report (nor an undated one) holds all key facts.

    Otherwise an answer built from an old article could pass without the newest figure.
    """
    first = min(d for s in q["sources"] if (d := published(by_id[s])) is not None)
    stories = {story(s) for s in q["sources"]}
    problems = []
    for a in by_id.values():
        if story(a["id"]) not in stories or a["id"] in q["sources"]:
            continue
        d = published(a)
        if (d is None or d < first) and all(fact_present(f, a["text"]) for f in q["key_facts"]):
            when = d.isoformat() if d else "undated"
            problems.append(f"{where}: older article {a['id']} ({when}) already holds all key facts")
    return problems


def check_as_of(q: dict[str, Any], by_id: dict[str, dict[str, Any]], where: str) -> list[str]:
    """Every source was published on or before the as-of date."""
    if "as_of" not in q:
        return [f"{where}: as_of question without an 'as_of' date"]
    cutoff = date.fromisoformat(q["as_of"])
    late = [s for s in q["sources"] if (d := published(by_id[s])) is None or d > cutoff]
    return [f"{where}: sources published after {cutoff} or undated: {late}"] if late else []


def check_questions(questions: list[dict[str, Any]], by_id: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    ids = Counter(q["id"] for q in questions)
    problems += [f"questions: duplicate id {i!r}" for i, n in ids.items() if n > 1]
    kinds = Counter(q.get("kind") for q in questions)
    for kind, n in MIN_KINDS.items():
        if kinds[kind] < n:
            problems.append(f"questions: {kinds[kind]} of kind {kind!r}, want at least {n}")
    if unknown := set(kinds) - set(MIN_KINDS):
        problems.append(f"questions: unknown kinds {sorted(map(str, unknown))}")
    if len(questions) < MIN_QUESTIONS:
        problems.append(f"questions: {len(questions)}, want at least {MIN_QUESTIONS}")
    for q in questions:
        problems += check_question(q, by_id)
    return problems


def check(corpus: Path = CORPUS, questions: Path = QUESTIONS) -> list[str]:
    """All problems found in the set; an empty list means it passes."""
    articles = read_jsonl(corpus)
    by_id = {a["id"]: a for a in articles}
    return check_corpus(articles) + check_questions(read_jsonl(questions), by_id)


def main() -> int:
    problems = check()
    for p in problems:
        print(p)
    articles, questions = read_jsonl(CORPUS), read_jsonl(QUESTIONS)
    kinds = Counter(q["kind"] for q in questions)
    print(
        f"{len(articles)} articles, {len({a['source'] for a in articles})} outlets, "
        f"{len({story(a['id']) for a in articles})} stories; {len(questions)} questions: "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    )
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
