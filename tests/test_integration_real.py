"""A miniature loop on the real embedded SmolLM2, killed with SIGKILL and re-run.

Checks that a run killed during sampling and again during training, then
re-run with the same command, ends with the same records as an uninterrupted
run and no duplicate ids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
MINIATURE = [
    "rounds=1",
    "judge.agreement_rows=3",
    "redteam.seeds_per_round=4",
    "redteam.jailbreak_prompts_per_round=2",
    "redteam.benign_per_round=4",
    "redteam.max_new_tokens=16",
    "redteam.max_template_words=40",
    "sample.max_new_tokens=16",
    "sample.prefill_max_new_tokens=6",
    "backend.batch_size=2",
    "train.epochs=2",
    "train.pairs_per_step=2",
    "train.checkpoint_every=1",
    "train.max_prompt_tokens=48",
    "train.max_response_tokens=12",
    "train.target_modules=[q_proj,v_proj]",
    "train.lora_r=4",
    "evaluate.sets={harmbench: 4, benign_heldout: 4}",
    "evaluate.capability_items=2",
    "evaluate.max_new_tokens=12",
]
JSONL = [
    "redteam/prompts.jsonl",
    "sample/responses.jsonl",
    "judge/judgements.jsonl",
    "pairs/pairs.jsonl",
]

pytestmark = pytest.mark.slow


def command(out: Path, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "selfmoa.cli.main",
        "run",
        str(ROOT / "configs" / "default.yaml"),
        f"output_dir={out}",
        f"name={name}",
        *MINIATURE,
    ]


def run_to_end(out: Path, name: str) -> None:
    result = subprocess.run(command(out, name), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]


def kill_when(out: Path, name: str, ready) -> None:
    """Start the run, SIGKILL it as soon as ``ready(run_dir)`` holds."""
    process = subprocess.Popen(
        command(out, name), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 600
    try:
        while not ready(out / name):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.time() < deadline
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def lines(path: Path) -> int:
    return path.read_text().count("\n") if path.is_file() else 0


def mid_sampling(run: Path) -> bool:
    stage = run / "round_00" / "sample"
    return lines(stage / "responses.jsonl") >= 2 and not (stage / "manifest.json").exists()


def mid_training(run: Path) -> bool:
    stage = run / "round_00" / "train"
    return lines(stage / "metrics.jsonl") >= 2 and not (stage / "manifest.json").exists()


def ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_sigkill_during_sampling_and_training_then_rerun_matches(tmp_path):
    run_to_end(tmp_path, "straight")
    kill_when(tmp_path, "killed", mid_sampling)
    assert not (tmp_path / "killed" / "round_00" / "sample" / "manifest.json").exists()
    kill_when(tmp_path, "killed", mid_training)
    assert not (tmp_path / "killed" / "round_00" / "train" / "manifest.json").exists()
    run_to_end(tmp_path, "killed")

    straight, killed = tmp_path / "straight" / "round_00", tmp_path / "killed" / "round_00"
    for name in JSONL:
        a, b = ids(straight / name), ids(killed / name)
        assert len(b) == len(set(b)), f"duplicate ids in {name}"
        assert sorted(a) == sorted(b), name
    for stage in ("redteam", "sample", "judge", "pairs"):
        a = json.loads((straight / stage / "manifest.json").read_text())["counts"]
        b = json.loads((killed / stage / "manifest.json").read_text())["counts"]
        assert a == b, stage
    train = json.loads((killed / "train" / "manifest.json").read_text())["counts"]
    assert (
        train["steps"]
        == json.loads((straight / "train" / "manifest.json").read_text())["counts"]["steps"]
    )
    steps = [json.loads(x)["step"] for x in (killed / "train" / "metrics.jsonl").open()]
    assert steps == list(range(1, train["steps"] + 1))
    assert (tmp_path / "killed" / "report" / "report.md").is_file()
