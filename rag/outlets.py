"""Outlet names as users type them: matched to the indexed names case-insensitively and by prefix.

>>> resolve_outlets(["dw"], ["BNN Newsroom", "DW News"])
('DW News',)
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.errors import ConfigError


def match_outlet(name: str, known: Sequence[str]) -> list[str]:
    """Indexed outlets that `name` means: an exact match (ignoring case), else every name it prefixes."""
    want = " ".join(name.split()).casefold()
    if not want:
        return []
    exact = [k for k in known if k.casefold() == want]
    if exact:
        return exact
    return [k for k in known if k.casefold().startswith(want)]


def resolve_outlets(requested: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """The indexed names for every requested outlet; ConfigError naming the indexed outlets if one matches none."""
    out: list[str] = []
    for name in requested:
        found = match_outlet(name, known)
        if not found:
            have = ", ".join(f"{k!r}" for k in known) if known else "none (the index is empty)"
            raise ConfigError(f"no indexed outlet matches {name!r}. Indexed outlets: {have}.")
        out += [f for f in found if f not in out]
    return tuple(out)


def describe_filters(filters: dict[str, object]) -> str:
    """A trace's filters as a short phrase, e.g. "since 2024-01-01, outlet DW News" ('' when none)."""
    parts = []
    if filters.get("since"):
        parts.append(f"since {filters['since']}")
    if filters.get("until"):
        parts.append(f"until {filters['until']}")
    for key, label in (("sources", "outlet"), ("languages", "language")):
        vals = filters.get(key) or []
        if isinstance(vals, list | tuple) and vals:
            parts.append(f"{label}{'s' if len(vals) > 1 else ''} {', '.join(str(v) for v in vals)}")
    if filters.get("keep_undated") is False and (filters.get("since") or filters.get("until")):
        parts.append("undated articles left out")
    return ", ".join(parts)
