"""Kill-and-resume: the whole loop on the tiny Llama, SIGKILLed at many points, re-run each time.

An uninterrupted run lists every fault point it passes (``SELFMOA_TRACE_POINTS``).
A second run in another folder is killed with SIGKILL at points drawn at random
from every stage (baseline and round evaluate, redteam, sample, judge, pairs,
train, report), some of them in the middle of a JSONL append, and re-run after
each kill. Every artefact must end byte-identical to the uninterrupted run's
(manifests compared without their timings).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import tiny_loop_config

N_KILLS = 12
TIMINGS = ("seconds", "finished")
NOT_ARTEFACTS = {"events.jsonl", ".lock", "started.json"}


def tiny_config(tiny_model: Path) -> dict:
    return tiny_loop_config(
        tiny_model,
        "hf",
        name="faults",
        redteam={"seeds_per_round": 6},
        train={"epochs": 2, "checkpoint_every": 1},
        evaluate={"sets": {"harmbench": 6, "attacked": 2, "benign_heldout": 6, "benign_forms": 2}},
    )


def run(config: Path, output: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "selfmoa.cli.main", "run", str(config), f"output_dir={output}"],
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false", **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def artefacts(root: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name in NOT_ARTEFACTS:
            continue
        data = path.read_bytes()
        if path.name == "config.yaml":
            data = b"".join(x for x in data.splitlines(True) if not x.startswith(b"output_dir:"))
        if path.name == "manifest.json":
            manifest = {k: v for k, v in json.loads(data).items() if k not in TIMINGS}
            data = json.dumps(manifest, sort_keys=True).encode()
        files[str(path.relative_to(root))] = data
    return files


def pick_kill_points(trace: list[str], count: int, seed: int = 0) -> list[str]:
    """At least one point per stage, the rest at random; a third of chunk points torn."""
    rng = random.Random(seed)
    by_stage: dict[str, list[str]] = {}
    for label in trace:
        by_stage.setdefault(label.split(":")[0], []).append(label)
    chosen = {rng.choice(labels) for labels in by_stage.values()}
    while len(chosen) < count:
        chosen.add(rng.choice(trace))
    ordered = sorted(chosen, key=trace.index)
    return [f"{p}:torn" if ":chunk" in p and rng.random() < 0.34 else p for p in ordered]


@pytest.mark.slow
def test_every_kill_resumes_to_identical_artefacts(tmp_path, tiny_model):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(tiny_model)))
    trace = tmp_path / "trace.txt"
    clean = run(config, tmp_path / "clean", SELFMOA_TRACE_POINTS=str(trace))
    assert clean.returncode == 0, clean.stderr[-2000:]
    labels = trace.read_text().splitlines()
    stages = {label.split(":")[0] for label in labels}
    assert {"baseline evaluate", "round 0 judge", "round 0 train", "report"} <= stages

    points = pick_kill_points(labels, N_KILLS)
    killed_in = set()
    for point in points:
        result = run(config, tmp_path / "killed", SELFMOA_KILL_AT=point)
        assert result.returncode == -9, f"not killed at {point}: {result.stderr[-1500:]}"
        killed_in.add(point.split(":")[0])
    final = run(config, tmp_path / "killed")
    assert final.returncode == 0, final.stderr[-2000:]

    assert len(points) >= 10 and killed_in == stages, (points, stages)
    expected = artefacts(tmp_path / "clean" / "faults")
    got = artefacts(tmp_path / "killed" / "faults")
    assert sorted(got) == sorted(expected)
    different = [name for name in expected if got[name] != expected[name]]
    assert not different, f"differ after {len(points)} kills: {different}"
