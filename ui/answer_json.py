"""Answer.to_json() back into an Answer, so stored conversations render exactly as they did live.

Generic over the dataclasses in rag/types.py: a field added there (with a default) is decoded from
its JSON when present and defaulted when an older conversation lacks it; unknown keys are ignored.
Hits are the one special case: their JSON flattens the chunk into the hit.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date
from typing import Any

from rag import types as rt
from rag.types import Answer, Chunk, Hit, Trace


def decode(tp: Any, value: Any) -> Any:
    """`value` (parsed JSON) as an instance of the type hint `tp`."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return decode(inner[0], value) if len(inner) == 1 else value
    if origin is typing.Literal:
        return value
    if origin is tuple:
        (item, *_) = typing.get_args(tp)
        return tuple(decode(item, v) for v in value)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [decode(item, v) for v in value]
    if origin is dict:
        return dict(value)
    if tp is date:
        return date.fromisoformat(value)
    if tp is Hit:
        return _hit(value)
    if tp is Trace:
        return _dataclass(Trace, value, {"hits": tuple(_hit(h) for h in value.get("hits", []))})
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp, value)
    if tp in (int, float, str, bool):
        return tp(value)
    return value


def _dataclass(cls: type, data: dict[str, Any], given: dict[str, Any] | None = None) -> Any:
    hints = typing.get_type_hints(cls, vars(rt))
    kwargs: dict[str, Any] = dict(given or {})
    for f in dataclasses.fields(cls):
        if f.name in kwargs or f.name not in data:
            continue
        kwargs[f.name] = decode(hints[f.name], data[f.name])
    return cls(**kwargs)


def _hit(d: dict[str, Any]) -> Hit:
    tail = str(d["chunk_id"]).rsplit(":", 1)[-1]
    chunk = Chunk(
        id=d["chunk_id"], article_id=d["article_id"], n=int(tail) if tail.isdigit() else 0, text=d.get("text") or "", start=d.get("start", 0), end=d.get("end", 0), title=d.get("title"),
        source=d.get("source"), published=decode(date | None, d.get("published")),
    )  # fmt: skip
    keys = ("dense", "lexical", "dense_rank", "lexical_rank", "sentence")
    return Hit(chunk, int(d["rank"]), float(d["score"]), **{k: d.get(k) for k in keys})


def answer_from_json(data: dict[str, Any]) -> Answer:
    """The inverse of Answer.to_json(), for what the UI renders (answer, sources, trace)."""
    answer: Answer = decode(Answer, data)
    return answer
