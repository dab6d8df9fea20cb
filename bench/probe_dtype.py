"""The probe judge in float32 against bfloat16: time and verdicts on every labelled answer.

Usage: .venv/bin/python bench/probe_dtype.py [--rows 0] [--output scores.json]

Scores every source of human labels (``selfmoa.judges.source_eval``, 2,074 answers;
``--rows N`` keeps N per source) with ``content-and-probe-unsafe``, the default
``unsafe`` verdict, once with the probe's SmolLM2-135M in float32 (the dtype its weights
were fitted on) and once in bfloat16 (``judge.probe_dtype``). The content features are
computed before the clocks start, so each time is the probe's alone. Prints both times,
how many verdicts differ, and each differing answer's source, human label and scores.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from selfmoa.core.config import Config
from selfmoa.judges.base import JudgeInput
from selfmoa.judges.registry import JudgeContext, build_judge, run_judges
from selfmoa.judges.source_eval import label_sources

JUDGE = "content-and-probe-unsafe"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=0, help="rows per source (0 = all)")
    parser.add_argument("--output", default="", help="write both dtypes' scores as JSON")
    args = parser.parse_args()
    rows = [(name, item) for name, part in label_sources(args.rows).items() for item in part]
    inputs = [JudgeInput(item.prompt, item.label, item.response) for _, item in rows]
    shared: dict = {}  # one embedder and feature cache for both judges
    scores: dict[str, np.ndarray] = {}
    for dtype in ("float32", "bfloat16"):
        config = Config.model_validate({"judge": {"probe_dtype": dtype}})
        judge = build_judge(JUDGE, JudgeContext(config, shared))
        judge.content.judge(inputs)  # the features, outside the clock
        start = time.perf_counter()
        verdicts = run_judges([judge], inputs)[JUDGE]
        print(f"{dtype}: {time.perf_counter() - start:.1f} s for {len(inputs)} answers", flush=True)
        scores[dtype] = np.array([np.nan if v.score is None else v.score for v in verdicts])
    full, half = scores["float32"], scores["bfloat16"]
    differ = np.flatnonzero((full >= 0.5) != (half >= 0.5))
    print(
        f"verdicts differ on {len(differ)} of {len(rows)}; errors {np.isnan(full).sum()} / "
        f"{np.isnan(half).sum()}; largest score difference {np.nanmax(np.abs(full - half)):.4f}"
    )
    for k in differ:
        name, item = rows[k]
        print(
            f"  {name}: human unsafe={item.gold.get('unsafe')}, float32 {full[k]:.4f}, "
            f"bfloat16 {half[k]:.4f}"
        )
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            json.dump({"sources": [n for n, _ in rows], "float32": full.tolist(),
                       "bfloat16": half.tolist()}, out)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
