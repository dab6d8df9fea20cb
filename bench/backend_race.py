"""llama.cpp against transformers float32 on the demo's evaluation, side by side.

Usage: .venv/bin/python bench/backend_race.py [--model embedded:smollm2-135m-instruct]
       [--output-dir runs/bench-race] [--slots N] [--challenger llamacpp|hf-bfloat16]
       [key=value ...]

Runs the demo's baseline evaluation stage (``configs/default.yaml``: 477 held-out
prompts, 48 new tokens, greedy, the default evaluation judges) twice in one process,
once with ``backend.kind=hf`` (transformers, float32, batch 32: the demo's setting) and
once with ``backend.kind=llamacpp`` (the model's own GGUF, ``backend.concurrency``
sequences), the stage cache off so both really generate. Prints each backend's wall
time and answers per minute, the speed ratio, and how often the evaluation verdicts
(``refused``, ``unsafe``) of the same prompt agree between the two, with the prompts
whose verdicts differ. Both runs are ordinary run directories; a second invocation
re-uses finished ones and reports the times their stages took when they ran (from
their manifests); delete OUTPUT_DIR to race again. ``--llamacpp-run RUN_DIR`` takes
the llama.cpp side from a finished run of the same config (e.g. ``make demo-qwen05``'s),
timed when it ran, so only transformers runs here: say so when quoting the ratio.
``--slots N`` gives the llama.cpp side ``backend.concurrency=N``. ``--challenger
hf-bfloat16`` races transformers generating in bfloat16 (``backend.generation_dtype``;
the judges stay float32) instead of llama.cpp. A trained policy races
with ``models.policy_adapter=ADAPTER_DIR``: transformers applies it with PEFT, llama.cpp
serves it merged into the GGUF (``backends/merged_gguf.py``; the merge is timed in the
stage, unless an earlier run left it in the cache).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from instruct_forms import run_baseline

from selfmoa.core.records import EvalItem
from selfmoa.core.rundir import read_records

CHALLENGERS = {
    "llamacpp": ["backend.kind=llamacpp"],
    "hf-bfloat16": ["backend.kind=hf", "backend.generation_dtype=bfloat16"],
}


def evaluate(
    model: str, side: str, output_dir: str, overrides: list[str], slots: int | None = None
) -> Path:
    """Run (or find finished) the baseline evaluate stage on ``side`` ('hf', float32, or a
    challenger, with ``slots`` parallel sequences on llama.cpp); its run."""
    name = f"race-{side}-" + model.removeprefix("embedded:").replace("/", "-")
    settings = [*CHALLENGERS.get(side, ["backend.kind=hf"]), *overrides]
    if slots:
        name += f"-{slots}"
        settings.append(f"backend.concurrency={slots}")
    config, _ = run_baseline(model, name, output_dir, settings, ("evaluate",))
    return config.run_dir


def manifest(run_dir: Path) -> dict:
    """A run's baseline evaluate manifest; a missing or damaged one is a one-line exit."""
    path = run_dir / "baseline" / "evaluate" / "manifest.json"
    try:
        value = json.loads(path.read_text())
        if isinstance(value["seconds"], (int, float)) and isinstance(value["inputs"], dict):
            return value
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sys.exit(f"{path} is missing or not a finished stage's manifest")


def stage_inputs(run_dir: Path) -> dict:
    """What a run's baseline evaluate stage computed from, the backend's settings left out."""
    inputs = manifest(run_dir)["inputs"]
    config = {
        k: v for k, v in dict(inputs.get("config") or {}).items() if not k.startswith("backend.")
    }
    return {**inputs, "config": config}


def finished_stage(run_dir: Path) -> tuple[float, list]:
    """A run's baseline evaluate stage: the seconds it took when it ran, and its items."""
    stage = run_dir / "baseline" / "evaluate"
    seconds = manifest(run_dir)["seconds"]
    if not seconds:
        sys.exit(f"{stage} was restored from the stage cache (0 s): it has no time to race")
    return seconds, read_records(stage / "items.jsonl", EvalItem)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--output-dir", default="runs/bench-race")
    parser.add_argument(
        "--llamacpp-run",
        type=Path,
        help="take the llama.cpp side from this finished run of the same config (its "
        "baseline evaluate stage, timed when it ran) instead of running it again",
    )
    parser.add_argument("--slots", type=int, help="llama.cpp's parallel sequences")
    parser.add_argument("--challenger", choices=sorted(CHALLENGERS), default="llamacpp")
    parser.add_argument("overrides", nargs="*", help="dotted key=value for both runs")
    args = parser.parse_args()
    os.environ["SELFMOA_STAGE_CACHE"] = "off"
    if args.llamacpp_run:
        manifest(args.llamacpp_run)  # before the transformers side runs for minutes
    hf_run = evaluate(args.model, "hf", args.output_dir, args.overrides)
    served_run = args.llamacpp_run or evaluate(
        args.model, args.challenger, args.output_dir, args.overrides, args.slots
    )
    if stage_inputs(hf_run) != stage_inputs(served_run):
        sys.exit(
            f"{served_run} evaluated another model, config or assets than {hf_run} "
            "(backend settings aside): pass the same --model and overrides"
        )
    challenger = "llama.cpp" if args.llamacpp_run else args.challenger
    results = {"hf": finished_stage(hf_run), challenger: finished_stage(served_run)}
    for kind, (seconds, items) in results.items():
        print(
            f"{kind}: {len(items)} answers in {seconds:.0f} s, {60 * len(items) / seconds:.0f}/min"
        )
    ratio = results["hf"][0] / results[challenger][0]
    print(f"{challenger} is {ratio:.2f}x the speed of transformers float32")
    hf_items = {item.id: item for item in results["hf"][1]}
    served = {item.id: item for item in results[challenger][1]}
    if set(hf_items) != set(served):
        sys.exit("the two sides answered different prompts: not the same evaluation config")
    shared = sorted(hf_items)
    for verdict in ("refused", "unsafe"):
        differ = [i for i in shared if getattr(hf_items[i], verdict) != getattr(served[i], verdict)]
        print(
            f"{verdict}: same verdict on {len(shared) - len(differ)}/{len(shared)} "
            f"({100 * (1 - len(differ) / len(shared)):.1f}%)"
        )
        for item_id in differ[:10]:
            item = hf_items[item_id]
            print(
                f"  {item.eval_set}/{item.form or '-'}: hf {getattr(item, verdict)}, "
                f"{challenger} {getattr(served[item_id], verdict)}: {item.prompt_text[:70]!r}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
