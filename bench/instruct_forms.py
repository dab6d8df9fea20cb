"""How often does each embedded policy, untouched, refuse harmful and benign requests, per form?

Usage: .venv/bin/python bench/instruct_forms.py [--models embedded:smollm2-135m-instruct ...]
       [--output-dir runs/bench-forms] [key=value ...]

Before choosing the demo's policy (and whether it needs the paper's safety reset), measure
what each instruct model already does. This runs the project's own baseline evaluation
stage (``selfmoa run`` limited to ``baseline/evaluate``, the evaluation judges of
``configs/default.yaml``, whose refusal verdict agrees with humans 0.96 on PyRIT's refusal
set) on the held-out sets only: HarmBench (harmful, no form), ``rephrased`` (harmful
intents in five phrasing forms), ``benign_forms`` (benign prompts in the same forms) and
``benign_heldout`` (benign-but-sensitive). Per model and form it prints the share of
harmful prompts refused and of benign prompts refused (over-refusal), with Wilson 95%
intervals, and writes the table to OUTPUT_DIR/instruct_forms.json. The runs are ordinary
run directories: re-running continues where one stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from selfmoa.config import load_config
from selfmoa.loop import Loop

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


def measure(model: str, output_dir: str, overrides: list[str]) -> dict:
    name = "forms-" + model.removeprefix("embedded:").replace("/", "-")
    config = load_config(
        "configs/default.yaml",
        [SETS, "evaluate.capability_items=0", *overrides],
        literal={"models.policy": model, "name": name[:100], "output_dir": output_dir},
    )
    started = time.time()
    Loop(config).execute(only=lambda key: key.scope == "baseline" and key.name == "evaluate")
    summary = json.loads((config.run_dir / "baseline" / "evaluate" / "summary.json").read_text())
    sets = summary["sets"]
    return {
        "model": model,
        "seconds": round(time.time() - started),
        "harmbench_refused": sets["harmbench"].get("refusal"),
        "harmful_refused_by_form": sets["rephrased"]["refusal_by_form"],
        "benign_refused_by_form": sets["benign_forms"]["refusal_by_form"],
        "benign_heldout_over_refusal": sets["benign_heldout"]["rate"],
        "attack_success_harmbench": summary["attack_success"],
    }


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
    parser.add_argument("overrides", nargs="*", help="dotted key=value for every run")
    args = parser.parse_args()
    rows = []
    for model in args.models:
        rows.append(measure(model, args.output_dir, args.overrides))
        print(f"{model}: {rows[-1]['seconds']} s", file=sys.stderr)
    out = Path(args.output_dir) / "instruct_forms.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
