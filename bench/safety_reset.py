"""Does the safety reset (stage 0) undo an embedded policy's refusals, and by how much?

Usage: .venv/bin/python bench/safety_reset.py [--model embedded:smollm2-135m-instruct]
       [--output-dir runs/bench-reset] [key=value ...]

Runs the baseline stages of an ordinary run with ``reset.enabled=true``: the reset
(``baseline/reset``), the held-out evaluation of the reset model (``baseline/evaluate``)
and of the untouched model (``baseline/reference``), on the sets of
``bench/instruct_forms.py`` (HarmBench, ``rephrased`` and ``benign_forms`` whole,
``benign_heldout``). Prints, per phrasing form, the share of harmful and of benign
prompts refused before and after the reset (``content-refusal`` verdict, Wilson 95%
intervals) and the reset's own counts (answers, refusals the forced opening turned
around, pairs, training loss). Re-running continues where a run stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from instruct_forms import FORMS, SETS, pct, run_baseline

BASELINE = ("reset", "evaluate", "reference")


def per_form(summary: dict) -> dict[str, dict]:
    sets = summary["sets"]
    return {
        "harmful": {
            **sets["rephrased"]["refusal_by_form"],
            "harmbench": sets["harmbench"].get("refusal"),
        },
        "benign": {
            **sets["benign_forms"]["refusal_by_form"],
            "benign_heldout": sets["benign_heldout"]["rate"],
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--output-dir", default="runs/bench-reset")
    parser.add_argument("overrides", nargs="*", help="dotted key=value")
    args = parser.parse_args()
    name = "reset-" + args.model.removeprefix("embedded:").replace("/", "-")
    overrides = [SETS, "reset.enabled=true", *args.overrides]
    config, seconds = run_baseline(args.model, name, args.output_dir, overrides, BASELINE)
    run = config.run_dir / "baseline"
    reset = json.loads((run / "reset" / "manifest.json").read_text())["counts"]
    before = per_form(json.loads((run / "reference" / "summary.json").read_text()))
    after = per_form(json.loads((run / "evaluate" / "summary.json").read_text()))
    print(f"{args.model}: {round(seconds)} s; reset counts: {json.dumps(reset)}")
    print("| refused | form | untouched | after the reset |\n|---|---|---|---|")
    for label in ("harmful", "benign"):
        for form in (*FORMS, "harmbench" if label == "harmful" else "benign_heldout"):
            print(
                f"| {label} | {form} | {pct(before[label].get(form))} "
                f"| {pct(after[label].get(form))} |"
            )
    out = Path(args.output_dir) / f"{name}.json"
    out.write_text(json.dumps({"reset": reset, "untouched": before, "reset_model": after}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
