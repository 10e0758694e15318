"""Sentence splitting of generated text, and the support check against cited passages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.verify import numbers, split_generated, verify_sentence

PASSAGE = (
    "Officials in Kyiv said 1,200 people were evacuated on Tuesday after the strike. "
    'Mayor Vitali Klitschko called the attack "a deliberate act of terror". '
    "Twenty-one buildings were damaged, according to the city's emergency service."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Turnout was 61% [1]. It rained [2].", [("Turnout was 61%.", (1,)), ("It rained.", (2,))]),
        ("Turnout was 61%. [1] It rained.[2][3]", [("Turnout was 61%.", (1,)), ("It rained.", (2, 3))]),
        ("Turnout was 61% [1, 3].", [("Turnout was 61%.", (1, 3))]),
        ("Mr. Smith met U.S. officials [2]. Growth was 3.5% [1].",
         [("Mr. Smith met U.S. officials.", (2,)), ("Growth was 3.5%.", (1,))]),
        ("- First point [1]\n- Second point [2]", [("First point", (1,)), ("Second point", (2,))]),
        ("No marker here. Another one [1][1].", [("No marker here.", ()), ("Another one.", (1,))]),
        ("Prices rose sharply.\n[4]", [("Prices rose sharply.", (4,))]),
        ("Did it work? Yes [1]!", [("Did it work?", ()), ("Yes!", (1,))]),
    ],
)  # fmt: skip
def test_split_generated(text: str, expected: list[tuple[str, tuple[int, ...]]]) -> None:
    assert split_generated(text) == expected


def test_split_keeps_every_word_once() -> None:
    text = "Kyiv was hit [1]. The mayor spoke; he said 12 died [2]. Rescue went on [1][2]."
    words = [w for s, _ in split_generated(text) for w in s.split()]
    assert " ".join(words) == "Kyiv was hit. The mayor spoke; he said 12 died. Rescue went on."


@pytest.mark.parametrize(
    "sentence",
    [
        "Officials said 1200 people were evacuated from Kyiv.",  # "1,200" == "1200"
        "About 1,200 people were evacuated after the strike on Tuesday.",
        'Klitschko called the strike "a deliberate act of terror".',
        "21 buildings were damaged.",  # "Twenty-one" == 21
        "Evacuations of 1,200 people followed the strike, officials in Kyiv said.",  # stems: evacuat-
    ],
)
def test_supported_sentences(sentence: str) -> None:
    ok, reason = verify_sentence(sentence, [PASSAGE])
    assert ok, reason


@pytest.mark.parametrize(
    ("sentence", "reason_part"),
    [
        ("Officials said 37 people were evacuated on Tuesday.", "number 37"),
        ("Officials said 1,300 people were evacuated on Tuesday.", "number 1300"),
        ("Mayor Oleg Petrenko called the attack an act of terror.", "'Oleg'"),
        ("Officials in Lviv said people were evacuated.", "'Lviv'"),
        ('Klitschko called the attack "an act of war".', 'quote "an act of war"'),
        ("Officials said details are at http://evil.example/report.", "URL http://evil.example/report"),
        ("The weather forecast predicts heavy snowfall across mountainous regions.", "content words"),
    ],
)
def test_unsupported_sentences_say_why(sentence: str, reason_part: str) -> None:
    ok, reason = verify_sentence(sentence, [PASSAGE])
    assert not ok
    assert reason is not None and reason_part in reason


def test_no_cited_passage_is_unsupported() -> None:
    assert verify_sentence("Officials said 1,200 people were evacuated.", []) == (False, "no citation")


def test_facts_may_come_from_the_union_of_cited_passages() -> None:
    a = "The central bank raised rates to 5.25% on Thursday."
    b = "Governor Andrew Bailey said inflation remained too high."
    sentence = "Governor Andrew Bailey raised rates to 5.25%."
    assert not verify_sentence(sentence, [a])[0]
    assert not verify_sentence(sentence, [b])[0]
    assert verify_sentence(sentence, [a, b]) == (True, None)


def test_demonyms_match_their_country() -> None:
    assert verify_sentence(
        "Ukrainian troops advanced near the river.", ["Ukraine's troops advanced near the river."]
    )[0]


def test_numbers_normalise_forms() -> None:
    assert numbers("1,000 and 1000 and 2.50 and 21st and twenty-one and 007") == {"1000", "2.5", "21", "7"}
    assert "37" not in numbers("370 people and 3.7 tonnes")


_WORDS = st.sampled_from(
    ["river", "bridge", "council", "vote", "mayor", "budget", "school", "tram", "harbour"]
)


@given(st.lists(_WORDS, min_size=3, max_size=8), st.integers(min_value=2, max_value=10**6))
def test_verbatim_sentence_supported_and_new_number_caught(words: list[str], n: int) -> None:
    passage = f"The {' '.join(words)} report counted {n} cases."
    assert verify_sentence(passage, [passage]) == (True, None)
    other = n + 1
    ok, reason = verify_sentence(f"The {' '.join(words)} report counted {other} cases.", [passage])
    assert not ok and reason == f"number {other} not in cited passage"
