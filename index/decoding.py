"""Bytes to text: UTF-8, UTF-16 with or without a BOM, else the legacy encoding charset-normalizer finds."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import charset_normalizer

from rag.errors import ReadError, SkipFile

_PREFERRED_LEGACY = ("cp1252", "latin_1", "iso8859_15")
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_GLUED = re.compile(r"(?<=[^\W\d_])[^\x00-\x7f]|[^\x00-\x7f](?=[^\W\d_])")
_TYPOGRAPHY = frozenset(
    "\u2019\u2018\u201c\u201d\u201e\u2013\u2014\u2026\u2022\u20ac\u00ab\u00bb\u00b7\u00b0\u00a0"
)


def decode_text(data: bytes, name: str) -> str:
    """Bytes -> str: UTF-8 (BOM stripped), else the encoding charset-normalizer detects; newlines -> "\\n"."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    elif b"\x00" in data:
        wide = _utf16_without_bom(data)
        if wide is None:
            raise ReadError(f"{name}: binary content (NUL bytes) in a text file")
        text = wide
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _detect_and_decode(data, name)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text saved without a BOM, told from binary by where its NUL bytes fall.

    ASCII and Latin-1 characters have a zero high byte, so UTF-16 LE text has NULs at odd offsets
    (UTF-16 BE at even ones) and almost none at the others; even Cyrillic text has them for its
    spaces and punctuation. charset-normalizer does not guess BOM-less UTF-16, hence this check.
    The decoded text must then look like text: no NUL, no control characters, and some spaces.
    """
    if len(data) < 4 or len(data) % 2:
        return None
    half = len(data) // 2
    even, odd = data[0::2].count(0) / half, data[1::2].count(0) / half
    if odd >= 0.1 and even <= 0.01:
        encoding = "utf-16-le"
    elif even >= 0.1 and odd <= 0.01:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    controls = sum(1 for c in text if not c.isprintable() and c not in "\n\r\t\f")
    if controls > len(text) // 100 or not any(c.isspace() for c in text):
        return None
    return text


def _detect_and_decode(data: bytes, name: str) -> str:
    """Decode non-UTF-8 bytes with the encoding charset-normalizer finds most plausible."""
    # Only ASCII-compatible encodings: NUL-free bytes are not UTF-16/32 (a BOM was handled already),
    # and EBCDIC pages turn plain ASCII into garbage.
    matches = [m for m in charset_normalizer.from_bytes(data) if _ascii_compatible(m.encoding)]
    if not matches:
        raise ReadError(f"{name}: cannot decode the file as text (not UTF-8, no encoding detected)")
    # On short inputs the Latin code pages tie on chaos (cp1250, cp775, cp1252 all decode "é" bytes);
    # among the ties take the decoding with fewest symbols glued to letters ("£ódŸ" is wrong), then
    # Windows-1252, by far the commonest legacy encoding of Western news text.
    least = min(m.chaos for m in matches)
    tied = [m for m in matches if m.chaos <= least + 0.01]

    def rank(m: Any) -> tuple[int, int]:
        preferred = any(enc in m.could_be_from_charset for enc in _PREFERRED_LEGACY)
        return (_oddities(str(m)), 0 if preferred else 1)

    return str(min(tied, key=rank))


def _oddities(text: str) -> int:
    """Count non-ASCII non-letters touching a letter, other than common typography: mojibake signs."""
    return sum(1 for c in _GLUED.findall(text) if not c.isalpha() and c not in _TYPOGRAPHY)


def _ascii_compatible(encoding: str) -> bool:
    try:
        return _PRINTABLE_ASCII.decode(encoding) == _PRINTABLE_ASCII.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        return False


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def nonempty(text: str, name: str) -> str:
    if not text.strip():
        raise SkipFile(f"{name}: no text content")
    return text
