"""Check generated sentences against the passages they cite. Pure functions, no model.

A sentence is supported when every checkable fact in it (URLs, quoted strings, numbers,
capitalised names) occurs in the union of its cited passages, and at least half of its
content words (lightly stemmed) do too.

>>> split_generated("Turnout was 61% [1]. The vote ended on 3 May.[1][2]")
[('Turnout was 61%.', (1,)), ('The vote ended on 3 May.', (1, 2))]
>>> verify_sentence("Turnout was 37%.", ["Turnout in the election was 61%."])
(False, 'number 37 not in cited passage')
>>> verify_sentence("Turnout was 61 percent.", ["Turnout in the election was 61%."])
(True, None)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

SUPPORT_THRESHOLD = 0.5  # share of content words that must appear in the cited passages

_MARKERS = r"\[\d+(?:\s*[,;]\s*\d+)*\]"
_MARKER_RE = re.compile(_MARKERS)
# Sentence end: terminal punctuation, closing quotes/brackets, then any markers, then space or end.
_END_RE = re.compile(r"""[.!?…]+["'”’)\]]*((?:\s*""" + _MARKERS + r""")*)(?=\s|$)""")
_ABBREV = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "gen", "gov", "sen", "rep", "lt", "col", "sgt",
           "capt", "vs", "etc", "no", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul",
           "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "e.g", "i.e", "a.m", "p.m"}  # fmt: skip
_BULLET_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")

_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
_QUOTE_RE = re.compile(r"[\"“”]([^\"“”]{3,}?)[\"“”]")
_NUM_RE = re.compile(r"(?<![\w.])\d+(?:[,.]\d+)*(?:st|nd|rd|th)?(?![\w])|(?<=[$€£])\d+(?:[,.]\d+)*")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_CAP_RE = re.compile(r"\b[A-Z][^\W_]*(?:['’\-][^\W_]+)*")


def _words(text: str) -> list[str]:
    return text.split()


_UNITS = _words("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                "fifteen sixteen seventeen eighteen nineteen")  # fmt: skip
_TENS = _words("twenty thirty forty fifty sixty seventy eighty ninety")
_NUMBER_WORDS = {w: i for i, w in enumerate(_UNITS)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_NUMWORD_RE = re.compile(r"\b(" + "|".join(_TENS) + r")[\s-]+(" + "|".join(_UNITS[1:10]) + r")\b|\b("
                         + "|".join(_UNITS[2:] + _TENS) + r")\b", re.I)  # fmt: skip

_STOP = set(
    _words(
        """a an the and or but if then than that this these those there here of in on at to for from by with
    without about into over under after before between during as is are was were be been being has have had
    do does did not no nor so such it its it's he she they them their his her him we us our you your i me my
    who whom whose which what when where why how all any both each few more most other some own same very can
    will would should could may might must shall also just only said says say told according while per
    however although though since until up down out off again further once new one"""
    )
)


def split_generated(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Sentences of a generation with the [n] markers each carries (markers removed from the text)."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for line in text.splitlines():
        line = _BULLET_RE.sub("", line).strip()
        start = 0
        for m in _END_RE.finditer(line):
            if _is_abbreviation(line, m.start()) and not m.group(1):
                continue
            _add(out, line[start : m.end()])
            start = m.end()
        _add(out, line[start:])
    return out


def _is_abbreviation(line: str, dot: int) -> bool:
    """A period after "Mr" or "U.S" ends no sentence (unless the next word starts a new one)."""
    if line[dot] != ".":
        return False
    word = re.search(r"([\w.]+)$", line[:dot])
    if word is None:
        return False
    w = word.group(1).lower()
    if w in _ABBREV or (len(w) == 1 and w.isalpha()):
        return True
    nxt = line[dot + 1 :].lstrip()
    return bool(nxt) and nxt[0].islower()


def _add(out: list[tuple[str, tuple[int, ...]]], piece: str) -> None:
    markers: list[int] = []
    for m in _MARKER_RE.finditer(piece):
        for n in re.findall(r"\d+", m.group()):
            if int(n) not in markers:
                markers.append(int(n))
    sentence = _MARKER_RE.sub("", piece)
    sentence = re.sub(r"\s+([.,;:!?…])", r"\1", re.sub(r"\s+", " ", sentence)).strip()
    if not _WORD_RE.search(sentence) and not re.search(r"\d", sentence):
        # Markers alone (e.g. on their own line) belong to the sentence before them.
        if out and markers:
            prev, prev_markers = out[-1]
            out[-1] = (prev, prev_markers + tuple(n for n in markers if n not in prev_markers))
        return
    out.append((sentence, tuple(markers)))


def verify_sentence(sentence: str, passages: Sequence[str]) -> tuple[bool, str | None]:
    """Is every fact of `sentence` in the union of `passages`? (supported, reason when not)."""
    if not passages:
        return False, "no citation"
    joined = _norm(" ".join(passages))
    norm = _norm(sentence)
    where = "cited passage" if len(passages) == 1 else "cited passages"
    for url in _URL_RE.findall(norm):
        url = url.rstrip(".,;:!?")
        if url not in joined:
            return False, f"URL {url} not in {where}"
    for quote in _QUOTE_RE.findall(sentence):
        if _norm(quote).strip(" .,") not in joined:
            return False, f'quote "{quote}" not in {where}'
    passage_numbers = numbers(joined)
    for n in numbers(norm):
        if n not in passage_numbers:
            return False, f"number {n} not in {where}"
    passage_words = {re.sub(r"'s$", "", w) for w in _WORD_RE.findall(joined)}
    passage_stems = content_stems(" ".join(passages))
    for name in _names(sentence):
        if _stem(name.lower()) not in passage_stems and not _name_in(name.lower(), passage_words):
            return False, f"name {name!r} not in {where}"
    words = content_stems(sentence)
    if words:
        share = len(words & passage_stems) / len(words)
        if share < SUPPORT_THRESHOLD:
            return False, f"only {share:.0%} of its content words are in {where}"
    return True, None


_UNIFY = str.maketrans("’‘“”–—", "''\"\"--")


def _norm(text: str) -> str:
    """Case-fold and unify quote, dash and space variants, so equal facts compare equal."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.translate(_UNIFY)
    return re.sub(r"\s+", " ", text)


def numbers(text: str) -> set[str]:
    """Numbers in `text`, normalised: "1,000" and "1000" -> "1000"; "twenty-one" -> "21"."""
    found: set[str] = set()
    for m in _NUM_RE.finditer(text):
        raw = re.sub(r"(st|nd|rd|th)$", "", m.group())
        # A comma followed by three digits groups thousands; otherwise it is a decimal comma.
        raw = re.sub(r",(?=\d{3}(?!\d))", "", raw).replace(",", ".")
        if "." in raw and not re.fullmatch(r"\d+\.\d+", raw):
            raw = raw.replace(".", "")  # 1.000.000 style grouping
        found.add(raw.rstrip("0").rstrip(".") if "." in raw else raw.lstrip("0") or "0")
    for m in _NUMWORD_RE.finditer(text):
        if m.group(1):
            found.add(str(_NUMBER_WORDS[m.group(1).lower()] + _NUMBER_WORDS[m.group(2).lower()]))
        else:
            found.add(str(_NUMBER_WORDS[m.group(3).lower()]))
    return found


def _names(sentence: str) -> list[str]:
    """Capitalised words that are not plain function words (those would match anywhere)."""
    names = []
    for m in _CAP_RE.finditer(sentence):
        word = re.sub(r"['’]s$", "", m.group())
        low = word.lower()
        if low in _STOP or low in _NUMBER_WORDS or len(word) < 2:
            continue
        if m.start() == 0 and low.endswith("ly"):  # "Reportedly, ..." is capitalised by position only
            continue
        names.append(word)
    return names


def _name_in(name: str, words: set[str]) -> bool:
    """Exact word, or a close variant ("Ukrainian" ~ "Ukraine") sharing all but one letter of a prefix."""
    if name in words:
        return True
    for w in words:
        shorter = min(len(w), len(name))
        if shorter >= 4 and _common_prefix(w, name) >= max(4, shorter - 1):
            return True
    return False


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning (no stop words, no one- or two-letter words, no URLs)."""
    # URLs are checked whole; their pieces ("http", "example") would inflate the overlap.
    text = _URL_RE.sub(" ", _norm(text))
    return {_stem(w) for w in _WORD_RE.findall(text) if len(w) > 2 and w not in _STOP}


def _stem(word: str) -> str:
    """A light suffix stripper: "killed"/"kills"/"killing" -> "kill", "cities" -> "city", "rates" -> "rat"."""
    w = word.replace("'", "").replace("-", "")
    if len(w) > 4 and w.endswith(("ies", "ied")):
        return w[:-3] + "y"
    if w.endswith("ions"):
        w = w[:-1]
    if len(w) > 7 and w.endswith("ion"):
        w = w[:-3]  # "evacuation" meets "evacuated"
    elif len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and (
        w.endswith("ed") or (w.endswith("es") and w[:-2].endswith(("s", "x", "z", "ch", "sh")))
    ):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    elif len(w) > 4 and w.endswith("ly"):
        w = w[:-2]
    # "rate"/"rated" and "stop"/"stopped" must meet at the same stem.
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    return w
