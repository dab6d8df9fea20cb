"""TRL-format pairs both ways, ``selfmoa train --pairs`` and ``selfmoa export``."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from conftest import tiny_loop_config
from selfmoa.cli.main import main
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.records import SCHEMA_VERSION, PreferencePair
from selfmoa.data.trl_pairs import (
    read_trl_dataset,
    read_trl_pairs,
    write_trl_jsonl,
    write_trl_parquet,
)


def fixture_rows(i: int) -> list[dict]:
    return [
        {  # conversational form, as TRL's own preference datasets
            "prompt": [{"role": "user", "content": f"how do I kill a stuck python process {i}"}],
            "chosen": [{"role": "assistant", "content": "here is a step by step answer"}],
            "rejected": [
                {"role": "assistant", "content": "I'm sorry, but I can't help with that."}
            ],
        },
        {  # standard form, strings, with an objective column
            "prompt": f"write a story about a detective {i}",
            "chosen": "the quick brown fox jumps over the lazy dog",
            "rejected": "I'm sorry, but I can't help with that.",
            "objective": "helpfulness",
        },
    ]


FIXTURE = [row for i in range(3) for row in fixture_rows(i)]


def pair(i: int) -> PreferencePair:
    return PreferencePair(
        id=f"p{i}",
        prompt_id=f"q{i}",
        prompt_text=f"prompt {i} ünïcode",
        objective="safety" if i % 2 else "helpfulness",
        chosen_response_id="c",
        chosen_text="I'm sorry, but I can't help with that.",
        rejected_response_id="r",
        rejected_text="here is a step by step answer",
        margins={"safety": 1.0, "helpfulness": 0.0},
    )


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_written_pairs_read_back(tmp_path, suffix):
    pairs = [pair(i) for i in range(3)]
    path = tmp_path / f"pairs{suffix}"
    (write_trl_jsonl if suffix == ".jsonl" else write_trl_parquet)(pairs, path)
    back = read_trl_pairs(path)
    assert [(p.id, p.prompt_text, p.chosen_text, p.rejected_text, p.objective) for p in back] == [
        (p.id, p.prompt_text, p.chosen_text, p.rejected_text, p.objective) for p in pairs
    ]


def test_written_jsonl_is_trl_conversational(tmp_path):
    write_trl_jsonl([pair(1)], tmp_path / "p.jsonl")
    row = json.loads((tmp_path / "p.jsonl").read_text())
    assert row["prompt"] == [{"role": "user", "content": "prompt 1 ünïcode"}]
    assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"


def test_both_trl_forms_are_read(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in FIXTURE))
    pairs = read_trl_pairs(path)
    assert pairs[0].prompt_text == "how do I kill a stuck python process 0"
    assert pairs[0].objective == "safety" and pairs[1].objective == "helpfulness"
    assert pairs[1].chosen_text == "the quick brown fox jumps over the lazy dog"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"prompt": "a", "chosen": "b"}\n', "needs the columns prompt, chosen and rejected"),
        ("{not json\n", "line 1 is not a JSON record"),
        (
            json.dumps(
                {
                    "prompt": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
                    "chosen": "c",
                    "rejected": "d",
                }
            )
            + "\n",
            "multi-turn conversations are not supported",
        ),
        (
            '{"prompt": "a", "chosen": "b", "rejected": "c", "objective": "Not A Name"}\n',
            "objective",
        ),
        ("", "holds no pairs"),
    ],
)
def test_bad_pairs_files_name_the_row(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(SelfMoaError, match=message):
        read_trl_pairs(path)


def write_train_inputs(tiny_model, tmp_path):
    """A tiny-model config (runs under tmp_path/runs) and FIXTURE as a pairs file."""
    data = tiny_loop_config(tiny_model)
    data["output_dir"] = str(tmp_path / "runs")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(data))
    pairs_path = tmp_path / "pairs.jsonl"
    pairs_path.write_text("".join(json.dumps(row) + "\n" for row in FIXTURE))
    return config_path, pairs_path


def test_train_on_a_pairs_file_then_export(tiny_model, tmp_path, capsys):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    config_path, pairs_path = write_train_inputs(tiny_model, tmp_path)
    run_dir = tmp_path / "runs" / "tiny"
    train_dir = run_dir / "round_00" / "train"

    assert (
        main(["train", str(config_path), "--pairs", str(pairs_path), "--out", str(train_dir)]) == 0
    )
    assert "2 steps on 6 pairs" in capsys.readouterr().out
    assert (train_dir / "adapter" / "adapter_config.json").is_file()
    # the same folder with other pairs is refused
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(FIXTURE[1]) + "\n")
    assert main(["train", str(config_path), "--pairs", str(other), "--out", str(train_dir)]) == 2
    assert "trained on other pairs" in capsys.readouterr().err
    # ... and so is the same folder with another policy dtype (other reference log-probs)
    argv = ["train", str(config_path), "models.dtype=bfloat16", "--pairs", str(pairs_path)]
    assert main([*argv, "--out", str(train_dir)]) == 2
    assert "trained on other pairs or settings" in capsys.readouterr().err

    # make it look like a finished loop round (marked as selfmoa's), then export it
    (run_dir / "selfmoa.json").write_text(json.dumps({"schema": SCHEMA_VERSION}))
    (run_dir / "config.yaml").write_text(config_path.read_text())
    (train_dir / "manifest.json").write_text("{}")
    (run_dir / "round_00" / "pairs").mkdir(parents=True)
    (run_dir / "round_00" / "pairs" / "pairs.jsonl").write_text(
        "".join(p.model_dump_json() + "\n" for p in read_trl_pairs(pairs_path))
    )
    assert main(["export", str(run_dir)]) == 0
    out = run_dir / "export" / "round_00"
    assert (
        len(read_trl_pairs(out / "pairs.parquet")) == len(read_trl_pairs(out / "pairs.jsonl")) == 6
    )

    merged = AutoModelForCausalLM.from_pretrained(out / "merged")
    with_adapter = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), str(out / "adapter")
    )
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        expected = with_adapter(input_ids=ids).logits
        assert torch.allclose(merged(input_ids=ids).logits, expected, atol=1e-5)
        assert not torch.allclose(base(input_ids=ids).logits, expected, atol=1e-5)
    assert main(["export", str(run_dir), "--round", "3"]) == 2
    assert "round 3" in capsys.readouterr().err


def test_pairs_from_a_datasets_id(tmp_path):
    # A local dataset folder stands in for a hub id (the hub is unreachable here).
    folder = tmp_path / "pku-like"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in FIXTURE))
    pairs = read_trl_dataset(f"hf:{folder}")
    assert [p.prompt_text for p in pairs] == [
        p.prompt_text for p in read_trl_pairs(folder / "train.jsonl")
    ]
    with pytest.raises(SelfMoaError, match="could not load the dataset"):
        read_trl_dataset(f"hf:{folder}:no_such_split")
