"""Top-k-first sampling: transformers' sampling distribution, drawn among k tokens only.

transformers' ``generate(do_sample=True)`` applies temperature, top-k (50 unless the
model's generation config says otherwise) and top-p as masks over the whole vocabulary:
top-p sorts the whole vocabulary and ``torch.multinomial`` then draws one exponential
variate per vocabulary entry. On Qwen's 152k-token vocabulary that was 31% of bfloat16
sampled decoding on 2 CPU cores (BENCHMARKS.md, *Generation paths against the machine's
limit*). The nucleus always lies inside the top k, so the same distribution can be drawn
from the k candidates alone: the k highest scores (sorted), temperature, softmax over
the k, top-p over that sorted list, one multinomial draw over k entries.

The draw uses torch's global generator, so one seed gives the same answers every time,
but not the answers transformers' own sampler gives for that seed (it consumes random
numbers differently). The sampler runs as the last logits processor of a *greedy*
``generate``: it returns scores that are 0 at the drawn token and -inf elsewhere, so
greedy's argmax takes the drawn token and generate's own draw never runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

TRANSFORMERS_DEFAULT_TOP_K = 50  # what generate uses when the model's config sets none


class TopKFirstSampler:
    """A transformers logits processor that draws the next token (see the module doc)."""

    def __init__(self, temperature: float, top_p: float, top_k: int) -> None:
        if temperature <= 0 or not 0 < top_p <= 1 or top_k < 1:
            raise ValueError(
                f"top-k sampling needs temperature > 0, 0 < top_p <= 1 and top_k >= 1; "
                f"got {temperature}, {top_p}, {top_k}"
            )
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k

    def draw(self, scores: torch.Tensor) -> torch.Tensor:
        """(batch,) token ids drawn from ``scores`` (batch, vocabulary)."""
        import torch

        k = min(self.top_k, scores.shape[-1])
        top_scores, top_ids = torch.topk(scores.float(), k, dim=-1)  # sorted, highest first
        probs = torch.softmax(top_scores / self.temperature, dim=-1)
        if self.top_p < 1:
            # transformers keeps a token while the mass ranked above it is below top_p
            mass_above = probs.cumsum(-1) - probs
            probs = probs.masked_fill(mass_above >= self.top_p, 0.0)
        choice = torch.multinomial(probs, num_samples=1)
        return top_ids.gather(-1, choice).squeeze(-1)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        drawn = self.draw(scores)
        only_drawn = torch.full_like(scores, float("-inf"))
        return only_drawn.scatter_(-1, drawn[:, None], 0.0)


def generation_top_k(generation_config: object) -> int:
    """The top-k transformers would sample with for a model with this generation config."""
    top_k = getattr(generation_config, "top_k", None)
    if top_k is None:
        return TRANSFORMERS_DEFAULT_TOP_K
    return top_k if top_k > 0 else 1 << 31  # 0 turns top-k off: every token is a candidate
