"""Text as every judge sees it: valid Unicode, cut to a fixed length per row.

- ``clean_text``: a lone UTF-16 surrogate (JSON ``"\\ud83d"`` without its pair, e.g. half
  an emoji cut by a byte limit) cannot be encoded as UTF-8, so a tokenizer refuses the
  whole batch it is in. It becomes U+FFFD, the replacement character, as any UTF-8
  decoder writes for bytes it cannot read; valid pairs are joined, other text is kept.
- ``judged_text``: the first ``MAX_JUDGED_CHARS`` characters, then cleaned. Every judge
  reads the prompt and the response through it (``registry.run_judges``), per row and
  before batching, so a row's score never depends on the rows batched with it, and a
  10 MB answer costs what a 32 000-character one does. The limit is above every text the
  content and probe judges were fitted on (PyRIT's longest response has 17 283
  characters). Within it the rubric judges read a long answer in windows
  (``judges.answer_windows``); the other model-backed judges (Llama Guard, WildGuard,
  ShieldGemma) report a judge prompt over ``judge.max_input_tokens`` as an error.
"""

from __future__ import annotations

from selfmoa.core.text_safety import SURROGATE

MAX_JUDGED_CHARS = 32_000


def clean_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (and split pairs joined)."""
    if SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def judged_text(text: str, limit: int = MAX_JUDGED_CHARS) -> str:
    """The first ``limit`` characters of ``text``, cleaned (see the module docstring)."""
    return clean_text(text[:limit])


def first_line(error: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message``, at most ``limit`` characters of message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:limit] if lines else ''}".rstrip(": ")
