"""Long answers in windows: the spans cover every token, the measure decides how windows
combine, and any window's error is the answer's error."""

from __future__ import annotations

import pytest

from selfmoa.judges.answer_windows import combine_windows, window_spans, windowed_prompts
from selfmoa.judges.base import Verdict


def test_one_span_when_the_answer_fits():
    assert window_spans(10, 10, 2) == [(0, 10)]
    assert window_spans(0, 10, 2) == [(0, 0)]


def test_spans_overlap_and_cover_every_token_to_the_end():
    spans = window_spans(25, 10, 3)
    assert spans == [(0, 10), (5, 15), (10, 20), (15, 25)]  # evenly spread, no sliver
    for length in range(11, 200):
        spans = window_spans(length, 10, 3)
        covered = {t for start, end in spans for t in range(start, end)}
        assert covered == set(range(length)) and spans[-1][1] == length
        assert all(end - start == 10 for start, end in spans)
        assert all(b[0] <= a[1] - 3 for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.parametrize("size,overlap", [(0, 0), (5, 5), (5, -1)])
def test_impossible_window_shapes_are_refused(size, overlap):
    with pytest.raises(ValueError, match="overlap"):
        window_spans(20, size, overlap)


def test_unsafe_takes_the_worst_window_and_refusal_the_least_declining():
    windows = [Verdict(score=0.1), Verdict(score=0.9), Verdict(score=0.3)]
    assert combine_windows("unsafe", windows).score == 0.9
    assert combine_windows("refusal", windows).score == 0.1


def test_a_failed_window_fails_the_answer():
    verdict = combine_windows("unsafe", [Verdict(score=0.1), Verdict(error="out of memory")])
    assert verdict.score is None and "1 of 2 windows failed: out of memory" in verdict.error


def test_a_measure_without_a_rule_is_refused():
    with pytest.raises(ValueError, match="helpfulness"):
        combine_windows("helpfulness", [Verdict(score=0.5)])


class GrowingTokenizer:
    """One token per character; a decoded window comes back ``extra`` characters longer,
    as real tokenizers can re-encode a cut window into a few more tokens."""

    def __init__(self, extra: int) -> None:
        self.extra = extra

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": [ord(c) for c in text]}

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(i) for i in ids) + "~" * self.extra


def build(prompt: str, text: str) -> str:
    return f"Q:{prompt}\nA:{text}"


def test_windows_that_re_encode_longer_are_shrunk_until_they_fit():
    prompts = windowed_prompts(build, GrowingTokenizer(12), "req", "x" * 500, 100)
    assert len(prompts) > 1 and all(len(p) <= 100 for p in prompts)


def test_windows_that_never_fit_give_the_whole_prompt_for_the_scorer_to_refuse():
    prompts = windowed_prompts(build, GrowingTokenizer(1000), "req", "x" * 500, 100)
    assert prompts == [build("req", "x" * 500)]


def test_an_answer_that_fits_is_one_unchanged_prompt():
    assert windowed_prompts(build, GrowingTokenizer(12), "req", "short", 100) == [
        build("req", "short")
    ]
