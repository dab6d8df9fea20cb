"""Helpfulness from relevance: cosine(prompt, answer) times a repetition penalty.

score = max(0, cos(embed(prompt), embed(answer))) * (1 - repeated_ngram_share).
Empty answers score 0. Weak, but it tells an on-topic answer from a refusal,
an off-topic ramble, or a loop that repeats itself.
"""

from __future__ import annotations

from selfmoa.judges.base import JudgeInput, Verdict
from selfmoa.judges.embedder import SentenceEmbedder
from selfmoa.judges.rowwise import verdicts_by_row


def repeated_ngram_share(text: str, n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier one (0 = no repetition)."""
    words = text.lower().split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


class RelevanceHelpfulnessJudge:
    name = "embedding-relevance"
    measure = "helpfulness"

    def __init__(self, embedder: SentenceEmbedder, ngram: int = 3) -> None:
        self.embedder = embedder
        self.ngram = ngram

    def judge(self, items: list[JudgeInput]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(items)
        scored = []
        for index, item in enumerate(items):
            if not item.response_text.strip():
                verdicts[index] = Verdict(score=0.0)
            else:
                scored.append(index)
        # e.g. out of memory, or a text the tokenizer refuses: that row's error, never a guess
        judged = verdicts_by_row(self._score, [items[i] for i in scored], "embedding failed")
        for index, verdict in zip(scored, judged, strict=True):
            verdicts[index] = verdict
        return [v if v is not None else Verdict(error="not judged") for v in verdicts]

    def _score(self, items: list[JudgeInput]) -> list[Verdict]:
        similarities = self.embedder.similarity(
            [i.prompt_text for i in items], [i.response_text for i in items]
        )
        return [
            Verdict(score=round(max(0.0, s) * self._penalty(i.response_text), 4))
            for i, s in zip(items, similarities, strict=True)
        ]

    def _penalty(self, text: str) -> float:
        return 1.0 - repeated_ngram_share(text, self.ngram)
