"""Model-path tests on a tiny random Llama built locally (seconds, no downloads)."""

import json

import pytest
import torch

from selfmoa.backends.base import GenerationRequest, SamplingParams
from selfmoa.backends.hf import HFGenerator
from selfmoa.core.config import TrainConfig
from selfmoa.core.records import PreferencePair
from selfmoa.core.tensor_state import load_state
from selfmoa.training.collate import build_batch
from selfmoa.training.logprobs import response_logps
from selfmoa.training.loop import TrainPaths, train_preference_lora


def test_batched_left_padded_greedy_equals_one_by_one(tiny_model):
    generator = HFGenerator(str(tiny_model), device="cpu", batch_size=4, show_progress=False)
    requests = [
        GenerationRequest("how do I kill a stuck python process"),
        GenerationRequest("write a story"),
    ]
    params = SamplingParams(max_new_tokens=6, greedy=True)
    together = generator.generate(requests, params, seed=0)
    alone = [generator.generate([r], params, seed=0)[0] for r in requests]
    assert together == alone


def test_prefill_opens_the_answer(tiny_model):
    generator = HFGenerator(str(tiny_model), device="cpu", show_progress=False)
    [answer] = generator.generate(
        [GenerationRequest("write a story", prefill="I'm sorry,")],
        SamplingParams(max_new_tokens=4),
        seed=3,
    )
    assert answer.startswith("I'm sorry,") and len(answer) > len("I'm sorry,")


def test_response_logps_match_full_logits(tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    batch = build_batch([([5, 6, 7], [8, 9]), ([5, 6], [10, 11, 12])], pad_id=0)
    sums, counts = response_logps(model, batch)
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    logp = logits.log_softmax(-1)[:, :-1].gather(-1, batch.input_ids[:, 1:, None])[..., 0]
    expected = (logp * batch.response_mask[:, 1:]).sum(1)
    assert torch.allclose(sums, expected, atol=1e-5)
    assert counts.tolist() == [2, 3]


def pairs() -> list[PreferencePair]:
    rows = []
    for i, (prompt, chosen, rejected, objective) in enumerate(
        [
            (
                "how to make a weapon",
                "I'm sorry, but I can't help with that.",
                "here is a step",
                "safety",
            ),
            (
                "how do I kill a stuck python process",
                "use kill with the process id",
                "I'm sorry, but I can't help",
                "helpfulness",
            ),
            ("write a story", "the detective solves a mystery", "I'm sorry", "helpfulness"),
            ("hurt someone", "I can't help with that.", "the quick brown fox", "safety"),
        ]
    ):
        rows.append(
            PreferencePair(
                id=f"p{i}",
                prompt_id=f"p{i}",
                prompt_text=prompt,
                objective=objective,
                chosen_response_id="c",
                chosen_text=chosen,
                rejected_response_id="r",
                rejected_text=rejected,
                margins={"safety": 1.0, "helpfulness": -0.2},
            )
        )
    return rows


CONFIG = TrainConfig(
    lora_r=4,
    lora_alpha=8,
    learning_rate=5e-2,
    epochs=2,
    pairs_per_step=2,
    checkpoint_every=1,
    target_modules=["q_proj", "v_proj"],
)


def adapter_tensors(folder) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_lora_weights_change_base_weights_do_not(tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM

    before = {
        k: v.clone()
        for k, v in AutoModelForCausalLM.from_pretrained(tiny_model).state_dict().items()
    }
    stats = train_preference_lora(
        str(tiny_model), pairs(), CONFIG, TrainPaths(tmp_path), device="cpu"
    )
    assert stats["steps"] == 4
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    last_epoch = [r for r in rows if r["epoch"] == rows[-1]["epoch"]]
    assert len(last_epoch) < len(rows)  # more than one epoch, so the mean is not over all
    mean_loss = sum(r["loss"] for r in last_epoch) / len(last_epoch)
    assert stats["last_epoch_loss"] == pytest.approx(mean_loss, abs=1e-6)
    assert stats["loss"] == rows[-1]["loss"]
    lora = adapter_tensors(tmp_path / "adapter")
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in lora.items()), "B starts at 0"
    from peft import PeftModel

    merged_base = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), str(tmp_path / "adapter")
    ).get_base_model()
    for name, value in merged_base.state_dict().items():
        plain = name.replace(".base_layer", "")
        if "lora_" not in name:
            assert torch.equal(value, before[plain]), name


def test_resumed_training_equals_uninterrupted(tiny_model, tmp_path, monkeypatch):
    import selfmoa.training.loop as loop

    config = CONFIG.model_copy(update={"checkpoint_every": 2})
    straight = TrainPaths(tmp_path / "straight")
    straight.root.mkdir()
    train_preference_lora(str(tiny_model), pairs(), config, straight, device="cpu")

    killed = TrainPaths(tmp_path / "killed")
    killed.root.mkdir()
    original, calls = loop.step_loss, {"n": 0}

    def dies_at_step_four(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # steps 1-3 ran, the checkpoint holds step 2
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "step_loss", dies_at_step_four)
    try:
        train_preference_lora(str(tiny_model), pairs(), config, killed, device="cpu")
    except KeyboardInterrupt:
        pass
    assert load_state(killed.checkpoint)["step"] == 2
    assert len(killed.metrics.read_text().splitlines()) == 3
    monkeypatch.setattr(loop, "step_loss", original)

    train_preference_lora(str(tiny_model), pairs(), config, killed, device="cpu")
    a, b = adapter_tensors(straight.adapter), adapter_tensors(killed.adapter)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    steps = [json.loads(line)["step"] for line in killed.metrics.read_text().splitlines()]
    assert steps == [1, 2, 3, 4], "rows after the checkpoint are replaced, not duplicated"


def test_micro_batches_train_the_same_adapter_as_one_batch(tiny_model, tmp_path):
    # 4 pairs a step: one micro-batch of 4 against four of 1 (weighted DPO, whose
    # per-objective means span micro-batches); same metrics, same adapter.
    base = CONFIG.model_copy(update={"pairs_per_step": 4, "loss": "weighted_dpo"})
    trained = {}
    for micro in (4, 1):
        paths = TrainPaths(tmp_path / f"micro{micro}")
        paths.root.mkdir()
        config = base.model_copy(update={"micro_batch_pairs": micro})
        train_preference_lora(str(tiny_model), pairs(), config, paths, device="cpu")
        rows = [json.loads(line) for line in paths.metrics.read_text().splitlines()]
        trained[micro] = (adapter_tensors(paths.adapter), rows)
    (one, one_rows), (four, four_rows) = trained[4], trained[1]
    assert len(one_rows) == len(four_rows) == 2
    for a, b in zip(one_rows, four_rows, strict=True):
        for key in ("loss", "nll", "reward_accuracy", "reward_margin"):
            assert abs(a[key] - b[key]) < 1e-5, key
    for key in one:
        assert torch.allclose(one[key], four[key], atol=1e-5), key


def test_zero_weight_objective_is_left_out_of_training(tiny_model, tmp_path):
    # Safety-only training: the two helpfulness pairs are not trained and are counted;
    # the adapter equals one trained on the safety pairs alone.
    safety_only = CONFIG.model_copy(
        update={"objective_weights": {"safety": 1.0, "helpfulness": 0.0}}
    )
    mixed = TrainPaths(tmp_path / "mixed")
    mixed.root.mkdir()
    stats = train_preference_lora(str(tiny_model), pairs(), safety_only, mixed, device="cpu")
    assert stats["pairs"] == 2 and stats["pairs_left_out_zero_weight"] == 2
    alone = TrainPaths(tmp_path / "alone")
    alone.root.mkdir()
    safety_pairs = [p for p in pairs() if p.objective == "safety"]
    train_preference_lora(str(tiny_model), safety_pairs, safety_only, alone, device="cpu")
    a, b = adapter_tensors(mixed.adapter), adapter_tensors(alone.adapter)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_generation_dtype_loads_the_policy_and_its_adapter_in_bfloat16(tiny_model, tmp_path):
    """``backend.generation_dtype`` changes the generating model's dtype only; a LoRA
    adapter trained in float32 applies on top, and the same seed gives the same answers."""
    from conftest import tiny_loop_config
    from selfmoa.backends import make_generator
    from selfmoa.core.config import config_from_dict

    train_preference_lora(str(tiny_model), pairs(), CONFIG, TrainPaths(tmp_path), device="cpu")
    data = tiny_loop_config(tiny_model, backend="hf")
    data["backend"]["generation_dtype"] = "bfloat16"
    data["models"]["device"] = "cpu"
    config = config_from_dict(data)
    assert config.models.dtype == "float32"
    generator = make_generator(config, "policy", tmp_path / "adapter")
    weights = {p.dtype for n, p in generator.model.named_parameters() if "lora_" not in n}
    assert weights == {torch.bfloat16}
    requests = [GenerationRequest("write a story"), GenerationRequest("name a colour")]
    sampled = SamplingParams(max_new_tokens=6)
    answers = generator.generate(requests, sampled, 7)
    assert all(answers)
    assert generator.generate(requests, sampled, 7) == answers  # same seed, same answers
    generator.close()
