"""Degeneration of answers: loops and repetition that a fluent answer does not have.

- ``repeats_sentence``: some sentence (split on . ! ? and newlines, lower-cased,
  at least 3 words) occurs twice or more in the answer.
- ``ngram_loop``: some word 4-gram occurs three times or more.
- ``distinct_n``: distinct word n-grams / all word n-grams over a set of answers
  (Li et al. 2016); low values mean the answers repeat each other or themselves.
An answer is *degenerate* when it repeats a sentence or loops.
"""

from __future__ import annotations

import re
from collections import Counter

_SENTENCE = re.compile(r"[^.!?\n]+")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def repeats_sentence(text: str) -> bool:
    sentences = [" ".join(_words(s)) for s in _SENTENCE.findall(text)]
    counts = Counter(s for s in sentences if len(s.split()) >= 3)
    return any(count >= 2 for count in counts.values())


def ngram_loop(text: str, n: int = 4, times: int = 3) -> bool:
    words = _words(text)
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return any(count >= times for count in grams.values())


def is_degenerate(text: str) -> bool:
    return repeats_sentence(text) or ngram_loop(text)


def distinct_n(texts: list[str], n: int) -> float | None:
    grams = [tuple(w[i : i + n]) for w in map(_words, texts) for i in range(len(w) - n + 1)]
    return round(len(set(grams)) / len(grams), 4) if grams else None
