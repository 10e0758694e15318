"""Injection flags in the catalog (chunks.injection): their JSON form, flagging a store built before
the detector or by an older version of it, and counts for the ingest report.

A store flagged by another DETECTOR_VERSION (or by none: its rows are NULL) is flagged again in
place by the next writer; flags depend on the stored text alone, so nothing is re-embedded. Until
then, readers flag NULL rows as they load them (rag.catalog.Catalog.chunk_records).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rag.injection import DETECTOR_VERSION, flag_sentences
from rag.types import InjectionFlag, Span

if TYPE_CHECKING:
    from rag.catalog import Catalog

INJECTION_META = "injection"  # meta key: the DETECTOR_VERSION that flagged the stored chunks


def flags_json(flags: Sequence[InjectionFlag]) -> str:
    return json.dumps([[f.start, f.end, f.reason] for f in flags])


def flags_from_json(value: str) -> tuple[InjectionFlag, ...]:
    return tuple(InjectionFlag(int(s), int(e), str(r)) for s, e, r in json.loads(value))


def reflag(catalog: Catalog) -> int:
    """Flag every chunk with this detector when the store was flagged by another version or none;
    returns the chunks flagged now. The caller holds the writer lock."""
    flagged_by = catalog.get_meta(INJECTION_META)
    if flagged_by == DETECTOR_VERSION:
        return 0
    db = catalog.db
    unflagged = db.execute("SELECT COUNT(*) FROM chunks WHERE injection IS NULL").fetchone()[0]
    if flagged_by is None and not unflagged:  # a new store: every chunk was flagged when stored
        catalog.set_meta(INJECTION_META, DETECTOR_VERSION)
        return 0
    rows = db.execute(
        'SELECT c.id, c.start, c."end", c.spans, a.text FROM chunks c JOIN articles a ON a.id = c.article_id'
    ).fetchall()
    updates = []
    for cid, start, end, spans, text in rows:
        sents = [Span(s, e) for s, e in json.loads(spans)]
        updates.append((flags_json(flag_sentences(text[start:end], start, sents)), cid))
    with catalog.transaction():
        db.executemany("UPDATE chunks SET injection=? WHERE id=?", updates)
        catalog.set_meta(INJECTION_META, DETECTOR_VERSION)
    return len(updates)


def flagged_counts(catalog: Catalog, article_ids: Sequence[str]) -> int:
    """Distinct flagged sentences over the chunks of `article_ids` (overlapping chunks share some)."""
    seen: set[tuple[str, int, int]] = set()
    for batch in _batches(list(article_ids), 500):
        marks = ",".join("?" * len(batch))
        for aid, injection in catalog.db.execute(
            f"SELECT article_id, injection FROM chunks WHERE article_id IN ({marks})", batch
        ):
            seen.update((aid, s, e) for s, e, _ in json.loads(injection or "[]"))
    return len(seen)


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
