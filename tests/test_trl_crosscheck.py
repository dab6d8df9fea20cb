"""Our DPO against TRL's DPOTrainer on identical batches: log-probs, losses, gradients.

TRL (a test-only dependency, the ``dev`` extra) computes its loss inside
``DPOTrainer.compute_loss`` from a batch built by its ``DataCollatorForPreference``;
there is no free-standing loss function to call, so a trainer is built around the
tiny random Llama with a LoRA adapter, and the same adapter, the same token ids and
the same reference (adapter disabled) go through both. The adapter's B matrices are
made non-zero first, so the policy differs from the reference and the gradients of
the preference term are not trivial.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("trl", reason="TRL is missing: a dev dependency (pip install -e '.[dev]')")
datasets = pytest.importorskip("datasets")

from selfmoa.core.config import TrainConfig  # noqa: E402
from selfmoa.training.collate import TokenizedPair  # noqa: E402
from selfmoa.training.loop import batch_logps, preference_terms, reference_logps  # noqa: E402
from selfmoa.training.losses import LOSSES  # noqa: E402

TOLERANCE = 1e-5
BETA = 0.3


def tokenized_pairs(vocab: int, eos: int) -> list[TokenizedPair]:
    """Pairs of different prompt and answer lengths, so padding is exercised."""
    generator = torch.Generator().manual_seed(3)

    def ids(count: int) -> list[int]:
        return torch.randint(3, vocab, (count,), generator=generator).tolist()

    shapes = [(7, 5, 9), (12, 11, 3), (4, 8, 8), (9, 2, 6)]
    return [
        TokenizedPair(ids(p), [*ids(c), eos], [*ids(r), eos], "safety", {}) for p, c, r in shapes
    ]


def build_trainer(model_path: Path, loss_type: str, output: Path):
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    dummy = datasets.Dataset.from_list([{"prompt": "a", "chosen": "b", "rejected": "c"}])
    trainer = DPOTrainer(
        model=base,
        args=DPOConfig(
            output_dir=str(output),
            beta=BETA,
            loss_type=[loss_type],
            bf16=False,
            gradient_checkpointing=False,
            precompute_ref_log_probs=False,
            use_cpu=True,
            report_to="none",
            max_length=None,
        ),
        train_dataset=dummy,
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=4,
            lora_alpha=8,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"],
            task_type="CAUSAL_LM",
        ),
    )
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, parameter in trainer.model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
    trainer.model.train()
    return trainer, tokenizer


def lora_grads(model) -> dict[str, torch.Tensor]:
    grads = {
        name: parameter.grad.detach().clone()
        for name, parameter in model.named_parameters()
        if parameter.requires_grad
    }
    model.zero_grad(set_to_none=True)
    return grads


def trl_side(trainer, pairs: list[TokenizedPair], pad_id: int):
    """TRL's loss, its gradient, and its per-sequence log-probs on our pairs."""
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    examples = [
        {"prompt_ids": p.prompt_ids, "chosen_ids": p.chosen_ids, "rejected_ids": p.rejected_ids}
        for p in pairs
    ]
    inputs = DataCollatorForPreference(pad_token_id=pad_id)(examples)
    loss = trainer.compute_loss(trainer.model, inputs)
    loss.backward()
    grads = lora_grads(trainer.model)
    with torch.no_grad():
        labels = inputs["input_ids"].masked_fill(inputs["completion_mask"] == 0, -100)
        out = trainer.model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            labels=labels,
            fused_lm_head=True,
            use_cache=False,
        )
        width = inputs["completion_mask"].shape[1] - 1
        sequence_logps = out.log_probs[:, -width:].sum(1)
    return loss.detach(), grads, sequence_logps


def our_side(model, pairs: list[TokenizedPair], pad_id: int, config: TrainConfig):
    reference = reference_logps(model, pairs, pad_id, batch_pairs=len(pairs))
    chosen, rejected, chosen_n, rejected_n = batch_logps(model, pairs, pad_id)
    terms, _, _ = preference_terms(
        chosen, rejected, (chosen_n, rejected_n), reference, pairs, config
    )
    loss, _ = LOSSES[config.loss].compute(terms)
    loss.backward()
    return loss.detach(), lora_grads(model), torch.cat([chosen, rejected]).detach()


@pytest.mark.parametrize(
    ("loss_type", "settings"),
    [
        ("sigmoid", {"loss": "dpo", "length_normalise": False}),
        # TRL's sigmoid_norm divides each log-ratio by the answer's token count
        ("sigmoid_norm", {"loss": "dpo", "length_normalise": True}),
        # TRL's IPO is length-normalised (per its authors); ours is when asked
        ("ipo", {"loss": "ipo", "length_normalise": True}),
    ],
)
def test_loss_logps_and_gradients_match_trl(tiny_model, tmp_path, loss_type, settings):
    trainer, tokenizer = build_trainer(tiny_model, loss_type, tmp_path)
    pad_id = tokenizer.pad_token_id
    pairs = tokenized_pairs(len(tokenizer), tokenizer.eos_token_id)
    config = TrainConfig(beta=BETA, nll_weight=0.0, **settings)

    theirs, their_grads, their_logps = trl_side(trainer, pairs, pad_id)
    ours, our_grads, our_logps = our_side(trainer.model, pairs, pad_id, config)

    # sums of ~10 float32 log-probs of magnitude ~6: rounding alone reaches ~1e-5
    assert torch.allclose(our_logps, their_logps, atol=TOLERANCE, rtol=1e-6)
    assert abs(ours.item() - theirs.item()) < TOLERANCE
    assert our_grads.keys() == their_grads.keys() and len(our_grads) == 2 * 6 * 2
    biggest = max(g.abs().max().item() for g in their_grads.values())
    assert biggest > 1e-3  # a gradient worth comparing
    for name, grad in our_grads.items():
        assert torch.allclose(grad, their_grads[name], atol=TOLERANCE, rtol=0), name
