"""Incremental, idempotent ingestion against the real model, real Chroma and real BM25."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from ingest_helpers import (
    article_text,
    assert_consistent,
    catalog_ids,
    chroma_ids,
    make_settings,
    word,
    write_corpus,
)

from index.ingest import ingest_paths
from rag.embedding import Embedder, load_embedder
from rag.errors import ModelMismatchError
from rag.lexical import LexicalIndex
from rag.pipeline import build_pipeline
from rag.settings import Settings
from rag.storage import open_storage
from rag.types import IngestReport

pytestmark = pytest.mark.slow  # each test ingests with the real model (a few seconds)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(Settings.from_env({}))


def _ingest(paths: list[Path], settings: Settings, embedder: Embedder, **kw: bool) -> IngestReport:
    before = embedder.texts_embedded
    report = ingest_paths(paths, settings, progress=False, embedder=embedder, **kw)
    assert embedder.texts_embedded - before == report.texts_embedded
    return report


def _statuses(report: IngestReport) -> dict[str, tuple[str, str | None]]:
    return {Path(f.path).name: (f.status, f.reason) for f in report.files}


def test_fresh_ingest_then_unchanged_rerun_embeds_nothing(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 4)
    settings = make_settings(tmp_path)

    first = _ingest([corpus], settings, embedder)
    assert [f.status for f in first.files] == ["indexed"] * 4
    assert first.articles_total == 4 and first.chunks_total == sum(f.chunks for f in first.files)
    assert first.texts_embedded == first.chunks_total > 4
    assert assert_consistent(settings) == (4, first.chunks_total)

    before = embedder.texts_embedded
    again = _ingest([corpus], settings, embedder)
    assert embedder.texts_embedded - before == 0 and again.texts_embedded == 0
    assert [f.status for f in again.files] == ["unchanged"] * 4
    assert [f.chunks for f in again.files] == [f.chunks for f in first.files]
    assert (again.articles_total, again.chunks_total) == (4, first.chunks_total)
    assert assert_consistent(settings) == (4, first.chunks_total)


def test_changed_file_replaces_its_chunks_leaving_no_stale_ones(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    paths = write_corpus(corpus, 3, sentences=30)
    settings = make_settings(tmp_path)
    first = _ingest([corpus], settings, embedder)
    old_n = {f.article_ids[0]: f.chunks for f in first.files}
    assert old_n["art001"] >= 4

    paths[1].write_text(article_text(1, sentences=5, extra=" A brand new closing line."), encoding="utf-8")
    report = _ingest([corpus], settings, embedder)
    st = _statuses(report)
    assert st["art001.txt"][0] == "updated" and st["art000.txt"][0] == st["art002.txt"][0] == "unchanged"
    new_n = next(f.chunks for f in report.files if f.article_ids == ("art001",))
    assert 0 < new_n < old_n["art001"]
    assert report.texts_embedded == new_n, "only the changed article is embedded"
    assert report.chunks_total == first.chunks_total - old_n["art001"] + new_n

    storage = open_storage(settings)
    try:
        expected = {f"art001:{n}" for n in range(new_n)}
        assert sorted(chroma_ids(storage, "art001")) == sorted(expected)
        assert sorted(catalog_ids(storage, "art001")) == sorted(expected)
        art = storage.catalog.article("art001")
        assert art is not None and "brand new closing line" in art.text
        got = storage.vectors.collection.get(where={"article_id": "art001"}, include=["documents"])
        assert any("brand new closing line" in d for d in got["documents"])
        assert len(catalog_ids(storage, "art000")) == old_n["art000"]
    finally:
        storage.close()
    assert assert_consistent(settings)[1] == report.chunks_total


def test_removed_file_is_kept_without_prune_and_removed_with_prune(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    paths = write_corpus(corpus, 3)
    settings = make_settings(tmp_path)
    first = _ingest([corpus], settings, embedder)
    gone_chunks = next(f.chunks for f in first.files if f.article_ids == ("art002",))
    paths[2].unlink()

    kept = _ingest([corpus], settings, embedder)
    assert [f.status for f in kept.files] == ["unchanged", "unchanged"]
    assert (kept.articles_total, kept.chunks_total) == (3, first.chunks_total)
    assert kept.texts_embedded == 0

    pruned = _ingest([corpus], settings, embedder, prune=True)
    st = _statuses(pruned)
    assert st["art002.txt"][0] == "removed" and "prune" in (st["art002.txt"][1] or "")
    assert (pruned.articles_total, pruned.chunks_total) == (2, first.chunks_total - gone_chunks)
    assert pruned.texts_embedded == 0
    storage = open_storage(settings)
    try:
        assert chroma_ids(storage, "art002") == [] and catalog_ids(storage, "art002") == []
        assert storage.catalog.article("art002") is None
        assert str(paths[2]) not in storage.catalog.files()
        assert storage.lexical.search(word(2), 10) == []
    finally:
        storage.close()
    assert assert_consistent(settings) == (2, first.chunks_total - gone_chunks)
    # pruning only looks inside the folders given: ingesting another folder removes nothing
    other = tmp_path / "other"
    write_corpus(other, 1, start=7)
    more = _ingest([other], settings, embedder, prune=True)
    assert [f.status for f in more.files] == ["indexed"] and more.articles_total == 3


def test_bad_files_get_a_status_and_never_touch_the_index(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    paths = write_corpus(corpus, 3)
    settings = make_settings(tmp_path, max_file_bytes=20_000)
    first = _ingest([corpus], settings, embedder)
    storage = open_storage(settings)
    before = {
        cid: (r.chunk.start, r.chunk.end)
        for cid, r in storage.catalog.chunk_records(catalog_ids(storage)).items()
    }
    storage.close()

    outside = tmp_path / "outside.txt"
    outside.write_text(article_text(50), encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text("  \n\n \t\n")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (corpus / "latin1.txt").write_bytes(
        " date 2024-03-09 en English\nCafé news\n\nThe café reopened. Élan was noted.\n".encode("cp1252")
    )
    (corpus / "huge.txt").write_text(article_text(60, sentences=400), encoding="utf-8")
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04 not an article")
    (corpus / "bad.jsonl").write_text('{"id": "j1", "text": "fine"}\n{not json\n')
    (corpus / "link_out.txt").symlink_to(outside)
    (corpus / "dangling.txt").symlink_to(corpus / "missing.txt")
    (corpus / "loop_a.txt").symlink_to(corpus / "loop_b.txt")
    (corpus / "loop_b.txt").symlink_to(corpus / "loop_a.txt")
    os.mkfifo(corpus / "pipe.txt")  # as root, chmod 000 does not stop a read: a FIFO cannot be read as a file
    paths[0].write_bytes(b"\x00\x01\x02 garbage over a good article \xff\xfe\x00")  # was indexed

    report = _ingest([corpus], settings, embedder)
    st = _statuses(report)
    expect = {
        "empty.txt": ("skipped", "empty"),
        "blank.md": ("skipped", "empty"),
        "binary.txt": ("failed", "binary"),
        "art000.txt": ("failed", "binary"),
        "huge.txt": ("skipped", "limit"),
        "notes.docx": ("skipped", "unsupported"),
        "bad.jsonl": ("failed", "line 2: invalid JSON"),  # its good line 1 is indexed (below)
        "link_out.txt": ("skipped", "outside the corpus root"),
        "dangling.txt": ("failed", "broken symlink"),
        "loop_a.txt": ("failed", "symlink"),
        "loop_b.txt": ("failed", "symlink"),
        "pipe.txt": ("failed", "not a regular file"),
        "latin1.txt": ("indexed", None),
        "art001.txt": ("unchanged", None),
        "art002.txt": ("unchanged", None),
    }
    assert set(st) == set(expect), set(st) ^ set(expect)
    for name, (status, reason) in expect.items():
        assert st[name][0] == status, (name, st[name])
        if reason:
            assert reason.lower() in (st[name][1] or "").lower(), (name, st[name])
    assert not report.ok
    assert report.count("failed") == 7 and report.count("skipped") == 5
    assert [f.status for f in report.files if f.path.endswith("bad.jsonl")] == ["indexed", "failed"]

    storage = open_storage(settings)
    try:
        # what was indexed before is untouched, the failed art000 included
        assert storage.catalog.counts() == (5, first.chunks_total + report.texts_embedded)
        after = {
            cid: (r.chunk.start, r.chunk.end)
            for cid, r in storage.catalog.chunk_records(list(before)).items()
        }
        assert after == before
        assert len(chroma_ids(storage, "art000")) == next(
            f.chunks for f in first.files if f.article_ids == ("art000",)
        )
        latin = storage.catalog.article("latin1")
        assert latin is not None and "The café reopened. Élan was noted." in latin.text
        assert latin.title == "Café news"
        assert storage.catalog.article("j1") is not None
    finally:
        storage.close()
    assert assert_consistent(settings)[0] == 5


def test_model_mismatch_is_a_clear_error_for_ingest_and_query(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    settings = make_settings(tmp_path)
    _ingest([corpus], settings, embedder)
    other = settings.replace(embed_model="other/model")
    for attempt in (
        lambda: ingest_paths([corpus], other, progress=False),  # without loading "other/model" first
        lambda: ingest_paths([corpus], other, progress=False, embedder=embedder),
        lambda: build_pipeline(other, embedder=embedder),
    ):
        with pytest.raises(ModelMismatchError) as err:
            attempt()
        assert "other/model" in str(err.value) and settings.embed_model in str(err.value)
    # the store is untouched and still answers with its own model
    assert assert_consistent(settings)[0] == 1
    # the collection itself records the model too (a Chroma server may be shared by many data dirs)
    storage = open_storage(settings)
    try:
        assert storage.vectors.built_with["embed_model"] == settings.embed_model
        assert storage.vectors.built_with["dim"] == embedder.dim
    finally:
        storage.close()
    shutil.move(settings.data_dir / "catalog.sqlite", tmp_path / "catalog.sqlite")  # only Chroma left
    with pytest.raises(ModelMismatchError, match="other/model"):
        open_storage(other, create=True, dim=embedder.dim)


def test_chroma_collection_is_configured_at_creation(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    settings = make_settings(tmp_path, hnsw_m=24, hnsw_construction_ef=150, hnsw_search_ef=300)
    _ingest([corpus], settings, embedder)
    storage = open_storage(settings)
    try:
        config = storage.vectors.collection.configuration
        hnsw = config["hnsw"]
        assert hnsw["space"] == "cosine"
        assert (hnsw["max_neighbors"], hnsw["ef_construction"], hnsw["ef_search"]) == (24, 150, 300)
        assert config.get("embedding_function") is None, (
            "vectors are always passed in, never computed by Chroma"
        )
        assert storage.vectors.client.get_settings().anonymized_telemetry is False
        assert os.environ.get("ANONYMIZED_TELEMETRY") == "False"
        # stored vectors are exactly the model's vectors of what was embedded
        got = storage.vectors.collection.get(ids=["art000:0"], include=["embeddings"])
        rec = storage.catalog.chunk_records(["art000:0"])["art000:0"]
        assert len(got["embeddings"][0]) == embedder.dim
        assert float((got["embeddings"][0] * rec.vec).sum()) > 0.99
    finally:
        storage.close()


def test_bm25_is_saved_consistent_and_finds_lexical_only_matches(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 6, sentences=20)
    code = "XQ7781ZB"
    p = corpus / "art003.txt"
    p.write_text(
        p.read_text().replace("Sentence 5 of", f"Sentence 5 (filed under {code}) of"), encoding="utf-8"
    )
    settings = make_settings(tmp_path)
    report = _ingest([corpus], settings, embedder)
    assert assert_consistent(settings)[1] == report.chunks_total
    assert (settings.data_dir / "bm25" / "CURRENT").exists()

    pipeline = build_pipeline(settings, embedder=embedder)
    try:
        lexical = pipeline.storage.lexical.search(code, 10)
        assert [cid.split(":")[0] for cid, _ in lexical] == ["art003"]
        hits = pipeline.retriever.retrieve(code, k=5).hits
        top = [h for h in hits if h.chunk.id == lexical[0][0]]
        assert top and top[0].lexical is not None and top[0].lexical_rank == 1
        assert code in top[0].chunk.text
    finally:
        pipeline.storage.close()


def test_bm25_left_stale_by_a_killed_run_is_rebuilt(tmp_path: Path, embedder: Embedder) -> None:
    """An article edited in place keeps its chunk ids; BM25 must still follow the new text."""
    corpus = tmp_path / "corpus"
    paths = write_corpus(corpus, 2)
    settings = make_settings(tmp_path)
    first = _ingest([corpus], settings, embedder)
    saved_generation = tmp_path / "bm25-before"
    shutil.copytree(settings.data_dir / "bm25", saved_generation)

    new_word = "plovdivmarmalade"
    paths[0].write_text(paths[0].read_text().replace(word(0), new_word), encoding="utf-8")
    report = _ingest([corpus], settings, embedder)
    assert report.chunks_total == first.chunks_total  # same chunk ids, new text
    # A run killed after its catalog commit but before its BM25 save leaves the old generation
    # (saves are atomic, so the old one is what is on disk): put it back.
    shutil.rmtree(settings.data_dir / "bm25")
    shutil.copytree(saved_generation, settings.data_dir / "bm25")
    stale = LexicalIndex.load(settings.data_dir / "bm25")
    assert stale is not None and stale.search(new_word, 5) == []

    again = _ingest([corpus], settings, embedder)
    assert again.texts_embedded == 0 and all(f.status == "unchanged" for f in again.files)
    assert_consistent(settings)
    fresh = LexicalIndex.load(settings.data_dir / "bm25")
    assert fresh is not None and fresh.search(new_word, 5)[0][0].startswith("art000:")
    assert fresh.search(word(0), 5) == []


def test_vectors_lost_from_chroma_are_restored_by_the_next_run(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 3)
    settings = make_settings(tmp_path)
    first = _ingest([corpus], settings, embedder)
    storage = open_storage(settings)
    try:
        lost = chroma_ids(storage, "art001")[:2]
        storage.vectors.delete(lost)
        orphan = chroma_ids(storage, "art002")[0]
        storage.catalog.db.execute("DELETE FROM chunks WHERE id=?", (orphan,))
    finally:
        storage.close()
    report = _ingest([corpus], settings, embedder)
    st = _statuses(report)
    assert st["art000.txt"][0] == "unchanged" and st["art001.txt"][0] == "updated"
    n1 = next(f.chunks for f in first.files if f.article_ids == ("art001",))
    assert report.texts_embedded == n1  # art001 re-embedded whole; art002's orphan vector deleted
    assert assert_consistent(settings) == (3, first.chunks_total - 1)


def test_changing_chunk_size_rechunks_everything(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 2, sentences=20)
    first = _ingest([corpus], make_settings(tmp_path), embedder)
    small = make_settings(tmp_path, chunk_size=64, chunk_overlap=32)  # whole sentences overlap
    report = _ingest([corpus], small, embedder)
    assert [f.status for f in report.files] == ["updated", "updated"]
    assert report.chunks_total > first.chunks_total and report.texts_embedded == report.chunks_total
    assert assert_consistent(small)[1] == report.chunks_total
    storage = open_storage(small)
    try:
        recs = storage.catalog.chunk_records(catalog_ids(storage, "art000"))
        spans = sorted((r.chunk.start, r.chunk.end) for r in recs.values())
        assert any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)), "overlap > 0 overlaps"
    finally:
        storage.close()
    assert _ingest([corpus], small, embedder).texts_embedded == 0


def test_jsonl_one_changed_line_reembeds_only_that_article(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "news.jsonl"
    rows = [
        {"id": f"j{i}", "title": f"Item {i}", "date": f"2024-01-{i + 1:02d}", "source": f"Outlet {i % 2}",
         "text": article_text(i, sentences=10).split("\n\n", 1)[1]}
        for i in range(5)
    ]  # fmt: skip
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path)
    first = _ingest([corpus], settings, embedder)
    assert first.articles_total == 5 and first.files[0].article_ids == tuple(f"j{i}" for i in range(5))

    rows[2]["text"] = rows[2]["text"] + " An added sentence about the new lighthouse."
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    report = _ingest([corpus], settings, embedder)
    assert [f.status for f in report.files] == ["updated"]
    storage = open_storage(settings)
    try:
        n2 = len(catalog_ids(storage, "j2"))
        art = storage.catalog.article("j2")
        assert art is not None and art.text.endswith("new lighthouse.")
    finally:
        storage.close()
    assert report.texts_embedded == n2 > 0
    # dropping a line removes that article only
    corpus.write_text("\n".join(json.dumps(r) for r in rows if r["id"] != "j4") + "\n", encoding="utf-8")
    dropped = _ingest([corpus], settings, embedder)
    assert dropped.texts_embedded == 0 and dropped.articles_total == 4
    assert assert_consistent(settings)[0] == 4


def test_article_and_chunk_ids_are_stable(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 3)
    ids = []
    for run in ("a", "b"):
        settings = make_settings(tmp_path / run)
        _ingest([corpus], settings, embedder)
        storage = open_storage(settings)
        try:
            ids.append((sorted(storage.catalog.article_ids()), sorted(catalog_ids(storage))))
        finally:
            storage.close()
    assert ids[0] == ids[1]
    assert ids[0][0] == ["art000", "art001", "art002"]
    assert all(cid.split(":")[0] in ids[0][0] and cid.split(":")[1].isdigit() for cid in ids[0][1])


def test_chunks_embedded_with_torch_bf16_are_found_by_int8_queries(tmp_path: Path) -> None:
    """Ingest loads its own model (torch-bf16 here); queries embed with onnx-int8: same vector space."""
    paths = write_corpus(tmp_path / "corpus", 4)
    settings = make_settings(tmp_path, ingest_runtime="torch-bf16")
    report = ingest_paths([tmp_path / "corpus"], settings, progress=False)
    assert report.ok and report.texts_embedded == report.chunks_total > 0
    assert report.embed_runtime == "torch-bf16"
    assert_consistent(settings)
    pipeline = build_pipeline(settings)
    storage = pipeline.retriever.storage
    assert pipeline.embedder.runtime == "onnx-int8"
    for i in range(len(paths)):
        qvec = pipeline.embedder.embed_query(f"Title {i} about {word(i)}: the harbour council's berths")
        ((cid, _),) = storage.vectors.query(qvec, 1, None)  # dense only: BM25 would find the word alone
        assert storage.catalog.chunk_records([cid])[cid].chunk.article_id == f"art{i:03d}"


def test_auto_runtime_embeds_a_small_change_with_the_query_runtime(tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus", 3)
    settings = make_settings(tmp_path)  # ingest_runtime "auto"
    first = ingest_paths([tmp_path / "corpus"], settings, progress=False)
    assert first.texts_embedded > 0
    assert first.embed_runtime == settings.embed_runtime == "onnx-int8"  # a few kB: no torch start-up
    again = ingest_paths([tmp_path / "corpus"], settings, progress=False)
    assert (again.texts_embedded, again.embed_runtime) == (0, None)  # nothing changed, no model loaded
