"""How often does each embedded policy, untouched, refuse harmful and benign requests, per form?

Usage: .venv/bin/python bench/instruct_forms.py [--models embedded:smollm2-135m-instruct ...]
       [--output-dir runs/bench-forms] [--serve] [key=value ...]

Before choosing the demo's policy (and whether it needs the paper's safety reset), measure
what each instruct model already does. This runs the project's own baseline evaluation
stage (``selfmoa run`` limited to ``baseline/evaluate``, the evaluation judges of
``configs/default.yaml``, whose refusal verdict agrees with humans 0.96 on PyRIT's refusal
set) on the held-out sets only: HarmBench (harmful, no form), ``rephrased`` (harmful
intents in five phrasing forms), ``benign_forms`` (benign prompts in the same forms) and
``benign_heldout`` (benign-but-sensitive). Per model and form it prints the share of
harmful prompts refused and of benign prompts refused (over-refusal), with Wilson 95%
intervals, and writes the table to OUTPUT_DIR/instruct_forms-MODELS.json. The runs are ordinary
run directories: re-running continues where one stopped.

``--serve`` generates through a llama.cpp server (``xllamacpp``, in this process) on the
model's own Q4_K_M GGUF instead of transformers on its float32 conversion: the
``openai`` backend, ``completions`` endpoint, so the chat template is applied here
exactly as for transformers. About 3x faster for the 1.5B on 2 cores; the weights are
the same quantised ones, the arithmetic is not, so answers can differ in places.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from selfmoa.core.config import Config, load_config
from selfmoa.pipeline.loop import Loop

DEFAULT_MODELS = [
    "embedded:smollm2-135m-instruct",
    "embedded:qwen2.5-coder-0.5b-instruct",
    "embedded:qwen2.5-coder-1.5b-instruct",
]
SETS = "evaluate.sets={harmbench: 80, rephrased: 127, benign_forms: 173, benign_heldout: 52}"
FORMS = ("command", "question", "first_person", "third_person", "indirect")


def pct(rate: dict | None) -> str:
    if not rate:
        return "-"
    return (
        f"{100 * rate['rate']:.0f}% [{100 * rate['ci_low']:.0f}-{100 * rate['ci_high']:.0f}] "
        f"({rate['n']})"
    )


def measure(model: str, output_dir: str, overrides: list[str], serve: bool = False) -> dict:
    name = "forms-" + model.removeprefix("embedded:").replace("/", "-")
    if serve:
        return _served(model, output_dir, overrides, name + "-llamacpp")
    return measure_run(model, output_dir, overrides, name)


def run_baseline(
    model: str, name: str, output_dir: str, overrides: list[str], stages: tuple[str, ...]
) -> tuple[Config, float]:
    """Run the named baseline stages of the default config with ``model`` as the policy
    (no capability items), in run OUTPUT_DIR/NAME; returns the config and the seconds."""
    config = load_config(
        "configs/default.yaml",
        ["evaluate.capability_items=0", *overrides],
        literal={"models.policy": model, "name": name[:100], "output_dir": output_dir},
    )
    started = time.time()
    Loop(config).execute(only=lambda key: key.scope == "baseline" and key.name in stages)
    return config, time.time() - started


def measure_run(model: str, output_dir: str, overrides: list[str], name: str) -> dict:
    """The baseline evaluate stage of one run on the held-out sets, summarised per form."""
    config, seconds = run_baseline(model, name, output_dir, [SETS, *overrides], ("evaluate",))
    summary = json.loads((config.run_dir / "baseline" / "evaluate" / "summary.json").read_text())
    sets = summary["sets"]
    return {
        "model": model,
        "seconds": round(seconds),
        "harmbench_refused": sets["harmbench"].get("refusal"),
        "harmful_refused_by_form": sets["rephrased"]["refusal_by_form"],
        "benign_refused_by_form": sets["benign_forms"]["refusal_by_form"],
        "benign_heldout_over_refusal": sets["benign_heldout"]["rate"],
        "attack_success_harmbench": summary["attack_success"],
    }


SLOTS = 8


def _served(model: str, output_dir: str, overrides: list[str], name: str) -> dict:
    """``measure`` through a local llama.cpp server on the embedded model's GGUF."""
    from selfmoa.backends.llamacpp_server import LlamaCppServer
    from selfmoa.core.embedded import cache_dir
    from selfmoa.core.split_gguf import SPLIT_MODELS, joined_gguf

    split = SPLIT_MODELS[model.removeprefix("embedded:")]
    server = LlamaCppServer(joined_gguf(split, cache_dir() / "gguf"), slots=SLOTS)
    try:
        settings = [
            "backend.kind=openai",
            "backend.endpoint=completions",
            f"backend.base_url={server.base_url}",
            f"backend.concurrency={SLOTS}",
            *overrides,
        ]
        row = measure_run(model, output_dir, settings, name)
    finally:
        server.close()
    return {**row, "backend": f"llama.cpp server, {SLOTS} slots, Q4_K_M GGUF"}


def table(rows: list[dict]) -> str:
    lines = [
        "| model | form | harmful refused (rephrased) | benign refused (benign_forms) |",
        "|---|---|---|---|",
    ]
    for row in rows:
        for form in FORMS:
            lines.append(
                f"| {row['model']} | {form} | {pct(row['harmful_refused_by_form'].get(form))} "
                f"| {pct(row['benign_refused_by_form'].get(form))} |"
            )
        lines.append(
            f"| {row['model']} | HarmBench / benign-sensitive | "
            f"{pct(row['harmbench_refused'])} | {pct(row['benign_heldout_over_refusal'])} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--output-dir", default="runs/bench-forms")
    parser.add_argument("--serve", action="store_true", help="generate with llama.cpp")
    parser.add_argument("overrides", nargs="*", help="dotted key=value for every run")
    args = parser.parse_args()
    rows = []
    for model in args.models:
        rows.append(measure(model, args.output_dir, args.overrides, args.serve))
        print(f"{model}: {rows[-1]['seconds']} s", file=sys.stderr)
    names = "-".join(m.removeprefix("embedded:") for m in args.models)
    out = Path(args.output_dir) / f"instruct_forms-{names}{'-served' if args.serve else ''}.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
