"""Conversations that last: stored in SQLite in the data directory, per owner, rendered as they were."""

from __future__ import annotations

from pathlib import Path

from rag.pipeline import Pipeline
from rag.settings import Settings
from ui import render
from ui.answer_json import answer_from_json
from ui.chat import ChatService
from ui.conversations import ConversationStore, title_for
from ui.session import Conversations, browser_secret, example_questions, owner_of
from ui.trace_view import trace_html

DRONES = "How many drones did Ukrainian air defenses shoot down over Kharkiv?"


def test_an_answer_survives_the_round_trip_through_json(seed_pipeline: Pipeline) -> None:
    for q in (DRONES, "Who won the 2024 Eurovision Song Contest?"):
        a = seed_pipeline.ask(q)
        back = answer_from_json(a.to_json())
        assert back.citations == a.citations and back.sentences == a.sentences and back.closest == a.closest
        assert back.to_json() == a.to_json()
        assert render.answer_html(back, 0) == render.answer_html(a, 0)
        assert trace_html(back) == trace_html(a)


def test_conversations_persist_per_owner_and_another_owner_cannot_read_them_by_id(
    seed_settings: Settings, seed_pipeline: Pipeline, tmp_path: Path
) -> None:
    path = tmp_path / "conversations.sqlite"
    convs = Conversations(ConversationStore(path), ChatService(seed_pipeline, seed_settings))
    alice, bob = "user:alice", "user:bob"
    assert (owner_of("alice", "b1"), owner_of("bob", "b1")) == (alice, bob)
    assert alice == "user:alice" and owner_of(None, "b1") == "browser:b1" and owner_of(None, None) is None
    a = seed_pipeline.ask(DRONES)
    cid = convs.record(alice, None, DRONES, a)
    assert cid is not None
    cid2 = convs.record(alice, cid, "Who is Viktor Trehubov?", seed_pipeline.ask("Who is Viktor Trehubov?"))
    assert cid2 == cid
    other = convs.record(alice, None, "What is happening in Kupiansk?", a)
    assert [t for t, _ in convs.choices(alice)] == ["What is happening in Kupiansk?", title_for(DRONES)]

    # bob knows alice's conversation id: he reads nothing, and can neither write, rename nor delete it
    assert convs.choices(bob) == []
    v = convs.view(bob, cid)
    assert v.conversation_id is None and v.exchanges == [] and v.messages == []
    assert convs.store.load(bob, cid) is None
    assert convs.store.append(bob, cid, "x", a) is False
    assert convs.rename(bob, cid, "mine now") == "That conversation is not yours or is gone."
    assert convs.delete(bob, cid) == "That conversation is not yours or is gone."
    assert convs.record(bob, cid, "sneaky", a) != cid  # a new conversation of bob's, not alice's
    assert len(convs.store.load(alice, cid) or []) == 2

    # a new store on the same file (a restart of `rag serve`) gives alice everything back
    again = Conversations(ConversationStore(path), ChatService(seed_pipeline, seed_settings))
    v = again.view(alice, cid)
    assert [q for q, _ in v.exchanges] == [DRONES, "Who is Viktor Trehubov?"] and v.title == title_for(DRONES)
    assert len(v.messages) == 4 and "ref-0-1" in v.messages[1]["content"] and "ref-1-1" in v.sources
    assert again.rename(alice, cid, "  Drones  over Kharkiv ") == "Renamed."
    assert again.choices(alice)[-1][0] == "Drones over Kharkiv"
    assert again.delete(alice, other) == "Conversation deleted."
    assert [c for _, c in again.choices(alice)] == [cid]
    md, js = again.exports(alice, cid, v.exchanges)
    assert Path(md).read_text().startswith("# Drones over Kharkiv")


def test_titles_secret_and_examples(tmp_path: Path, seed_pipeline: Pipeline) -> None:
    assert title_for("  What   happened? ") == "What happened?"
    long = title_for("word " * 30)
    assert long.endswith("…") and len(long) <= 61
    s1 = browser_secret(tmp_path)
    assert s1 == browser_secret(tmp_path) and oct((tmp_path / "ui-secret").stat().st_mode)[-3:] == "600"
    qs = example_questions(seed_pipeline.articles())
    assert len(qs) == 2  # the two titled articles, newest first; the untitled one is not a question
    assert qs[0].startswith("What do the articles say about Escalating Tensions")
    assert example_questions([]) == []
