"""Escaping of untrusted text (model output, names, values read from files) for the reports.

One place for every format a report writes:

- ``visible``: control characters (except newline and tab), bidi overrides and lone
  surrogates become visible escapes such as ``\\x1b`` or ``\\ud83d``, so a terminal never
  replays them and UTF-8 encoding never fails;
- ``md_text``: text shown literally by any CommonMark/GFM viewer, inline (in a
  paragraph, heading, list item or table cell, never at the start of a line): every
  ASCII punctuation character is backslash-escaped, except ``&``, ``<``, ``>`` and
  ``|``, which become character references (so a GFM table never splits on them),
  ``-`` and ``/``, which start nothing in the middle of a line, and ``_`` between two
  ASCII letters or digits, which can neither open nor close emphasis there;
- ``md_data``: ``md_text`` of model output, flattened to one line and shortened;
- ``md_value``: a figure for a Markdown cell (numbers as written, anything else escaped);
- ``html_text``: text for HTML element content or a quoted attribute value;
- ``utf8``: the bytes of a finished document, never failing on a stray surrogate.
"""

from __future__ import annotations

import html
import re
import string

_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: UTF-8 cannot hold it
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;"}
_MD_ESCAPES = {
    ord(char): _MD_ENTITIES.get(char, "\\" + char)
    for char in string.punctuation
    if char not in "-/_"
}
_LOOSE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with control characters (but newline and tab) and lone surrogates visible."""
    return _HIDDEN.sub(_shown, text)


def md_text(text: str) -> str:
    """``text`` as literal inline Markdown on one line (newlines and tabs become spaces)."""
    flat = visible(text).replace("\n", " ").replace("\t", " ")
    return _LOOSE_UNDERSCORE.sub(r"\\_", flat.translate(_MD_ESCAPES))


def md_data(text: str, limit: int = 280) -> str:
    """Model output as one line of literal Markdown, cut after ``limit`` characters."""
    flat = " ".join(visible(text).split())  # visible first: split() eats \x1c-\x1f
    if len(flat) > limit:
        return md_text(flat[:limit]) + "..."
    return md_text(flat)


def md_value(value: object) -> str:
    """A number as Python writes it; None as ``-``; anything else as literal text."""
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return md_text(str(value))


def html_text(text: str) -> str:
    """``text`` for HTML content or a quoted attribute: escaped, controls made visible."""
    return html.escape(visible(text), quote=True)


def utf8(text: str) -> bytes:
    """UTF-8 bytes of ``text``; a lone surrogate that slipped through is written as ``\\udXXX``."""
    return text.encode("utf-8", "backslashreplace")
