"""Metrics for planted wrong values (RAMDocs `wrong_answers`) and reported conflicts: pure functions.

An answer's conflicts are read from its JSON (`answer.to_json().get("conflicts") or []`), each entry
`{"about": ..., "values": [{"value": "26", "citations": [...], ...}, ...]}` (design.md). Answers made
before that field existed have none, which these functions treat as an empty list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evals.metrics import fact_present, normalise


def effective_wrong_values(wrong: Sequence[str], key_facts: Sequence[str]) -> list[str]:
    """The planted values that can count against an answer: deduplicated, minus those that equal or
    sit inside a key fact (any `a|b` alternative), since stating the right answer would match them.

    >>> effective_wrong_values(["Raj Kapoor", "Raj Kapoor", "Football"], ["American football"])
    ['Raj Kapoor']
    >>> effective_wrong_values(["1860"], ["1860"]), effective_wrong_values([], ["x"])
    ([], [])
    """
    alts = [normalise(a) for fact in key_facts for a in fact.split("|") if a.strip()]
    out: list[str] = []
    seen: set[str] = set()
    for w in wrong:
        nw = normalise(w)
        if not nw or nw in seen or any(nw in a for a in alts):
            continue
        seen.add(nw)
        out.append(w)
    return out


def reported_values(conflicts: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """Every `values[].value` of an answer's conflicts, in order.

    >>> reported_values([{"about": "death toll", "values": [{"value": "26"}, {"value": "31"}]}])
    ['26', '31']
    >>> reported_values(None)
    []
    """
    out: list[str] = []
    for c in conflicts or []:
        for v in c.get("values") or []:
            value = v.get("value") if isinstance(v, Mapping) else None
            if isinstance(value, str):
                out.append(value)
    return out


def false_value_flags(
    stated: str,
    key_facts: Sequence[str],
    wrong_answers: Sequence[str],
    conflicts: Sequence[Mapping[str, Any]] | None,
) -> dict[str, bool | None]:
    """Whether an answer's text states a planted wrong value, and how.

    - `false_value`: some planted wrong value is in the text;
    - `false_value_with_flag`: that, and the answer reports a conflict (the user is warned);
    - `false_value_alone`: a wrong value, no correct key fact, and no conflict flag: the user is misled.

    All three are None when the question has no planted value that can count (see
    `effective_wrong_values`): such an answer cannot be wrong this way, and is left out of the rate.

    >>> false_value_flags("Directed by Raj Kapoor.", ["Mahesh Bhatt"], ["Raj Kapoor"], [])
    {'false_value': True, 'false_value_with_flag': False, 'false_value_alone': True}
    >>> flagged = [{"about": "director", "values": [{"value": "Raj Kapoor"}, {"value": "Mahesh Bhatt"}]}]
    >>> false_value_flags("Mahesh Bhatt or Raj Kapoor.", ["Mahesh Bhatt"], ["Raj Kapoor"], flagged)
    {'false_value': True, 'false_value_with_flag': True, 'false_value_alone': False}
    >>> false_value_flags("Mahesh Bhatt.", ["Mahesh Bhatt"], ["Raj Kapoor"], None)["false_value"]
    False
    >>> false_value_flags("Football.", ["American football"], ["Football"], [])["false_value"] is None
    True
    """
    wrong = effective_wrong_values(wrong_answers, key_facts)
    if not wrong:
        return {"false_value": None, "false_value_with_flag": None, "false_value_alone": None}
    present = any(fact_present(w, stated) for w in wrong)
    flagged = bool(conflicts)
    right = any(fact_present(f, stated) for f in key_facts)
    return {
        "false_value": present,
        "false_value_with_flag": present and flagged,
        "false_value_alone": present and not right and not flagged,
    }


def conflict_recalled(
    conflict_values: Sequence[str], conflicts: Sequence[Mapping[str, Any]] | None
) -> bool | None:
    """Whether every expected conflicting value appears in some reported `conflicts[].values[].value`.

    None when the question expects no conflict. Matching is `fact_present`'s: case and typography
    ignored, `a|b` either form, and the expected value may sit inside a longer reported one.

    >>> reported = [{"about": "death toll", "values": [{"value": "26 people"}, {"value": "31"}]}]
    >>> conflict_recalled(["26", "31"], reported), conflict_recalled(["26", "40"], reported)
    (True, False)
    >>> conflict_recalled(["26"], []), conflict_recalled([], reported) is None
    (False, True)
    """
    if not conflict_values:
        return None
    values = reported_values(conflicts)
    return all(any(fact_present(want, got) for got in values) for want in conflict_values)
