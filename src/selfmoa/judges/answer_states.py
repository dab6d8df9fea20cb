"""What a language model "thinks" while reading an answer: its mean hidden state.

For the probe judge (``judges.probe``): the request goes through the model's chat
template as the user turn, the answer follows as the assistant turn, and the hidden
states of one layer are averaged over the answer's tokens only. A 135M model cannot
judge harm by answering a rubric, but its states still separate fluent, specific
content from the vacuous, repetitive text small models write, which keyword and
embedding features cannot (docs/judges.md).

Texts are cut to ``PROMPT_CHARS`` / ``ANSWER_CHARS`` and the sequence to ``max_tokens``,
the same at fitting time (``scripts/fit_probe_judge.py``) and when judging. Only the
layers up to the deepest one read are run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from selfmoa.judges.text import clean_text

PROMPT_CHARS = 1500
ANSWER_CHARS = 2000


class AnswerStates:
    """Mean hidden states over the answer tokens, for (request, answer) pairs, batched."""

    def __init__(self, model, tokenizer, max_tokens: int = 512, batch_size: int = 8) -> None:
        if tokenizer.chat_template is None:
            raise ValueError("the probe judge's model needs a chat template")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def _ids(self, prompt: str, answer: str) -> tuple[list[int], int]:
        """Token ids of the whole chat, and where the answer starts. The request keeps at
        most half of ``max_tokens``, so the answer always has room. Texts are cleaned
        (``judges.text.clean_text``): a lone surrogate would make the tokenizer refuse."""
        prompt, answer = clean_text(prompt), clean_text(answer)
        prompt_ids = self.tokenizer(prompt[:PROMPT_CHARS], add_special_tokens=False)["input_ids"]
        if len(prompt_ids) > self.max_tokens // 2:
            prompt = self.tokenizer.decode(prompt_ids[: self.max_tokens // 2])
        head = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt[:PROMPT_CHARS]}],
            tokenize=False,
            add_generation_prompt=True,
        )
        head_ids = self.tokenizer(head, add_special_tokens=False)["input_ids"]
        answer_ids = self.tokenizer(answer[:ANSWER_CHARS], add_special_tokens=False)["input_ids"]
        return (head_ids + answer_ids)[: self.max_tokens], len(head_ids)

    def states(self, prompts: list[str], answers: list[str], layers: list[int]) -> np.ndarray:
        """(pairs, len(layers), hidden) float32; a row of NaN where no answer token fits."""
        encoded = [self._ids(p, a) for p, a in zip(prompts, answers, strict=True)]
        hidden = self.model.config.hidden_size
        out = np.full((len(encoded), len(layers), hidden), np.nan, dtype=np.float32)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
        device = next(self.model.parameters()).device
        for start in range(0, len(order), self.batch_size):
            chunk = [
                i
                for i in order[start : start + self.batch_size]
                if encoded[i][1] < len(encoded[i][0])
            ]
            if not chunk:
                continue
            width = max(len(encoded[i][0]) for i in chunk)
            ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            answer_mask = torch.zeros((len(chunk), width), dtype=torch.float32)
            for row, i in enumerate(chunk):  # right padding: real tokens never see a pad
                tokens, answer_start = encoded[i]
                ids[row, : len(tokens)] = torch.tensor(tokens)
                attention[row, : len(tokens)] = 1
                answer_mask[row, answer_start : len(tokens)] = 1.0
            with torch.no_grad(), _only_layers(self.model.config, max(layers) + 1):
                result = self.model.get_decoder()(  # the decoder alone: no logits
                    input_ids=ids.to(device),
                    attention_mask=attention.to(device),
                    output_hidden_states=True,
                )
            mask = answer_mask.to(device).unsqueeze(-1)
            for slot, layer in enumerate(layers):
                states = result.hidden_states[layer].float()
                mean = (states * mask).sum(1) / mask.sum(1)
                out[chunk, slot] = mean.cpu().numpy()
        return out


@contextmanager
def _only_layers(config: Any, count: int) -> Iterator[None]:
    """Run only the first ``count`` decoder layers: the states read come from a layer in
    the middle, and the decoders of transformers stop at ``config.num_hidden_layers``, so
    the layers after it need not run (identical states, about 40% less time for layer 18
    of the 135M's 30). Architectures that ignore the number simply run every layer."""
    total = config.num_hidden_layers
    config.num_hidden_layers = min(total, count)
    try:
        yield
    finally:
        config.num_hidden_layers = total
