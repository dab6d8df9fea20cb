"""The agreement stage's work, timed: every labelled source scored by the evaluation judges.

Usage: .venv/bin/python bench/judging_speed.py [--rows 60] [--repeats 1] [--per-judge]

Scores ``--rows`` rows of every source of human labels (``selfmoa.judges.source_eval``:
PyRIT's objective, harm and refusal sets, the team gold sets; 0 = all 2,074) with the
default evaluation judges, as the run's ``agreement`` stage does, judges built (models
loaded) before the clock starts. Prints the wall time of each repeat and writes nothing.
``--per-judge`` then times each judge alone on every row, in the configured order (the
content judges share one feature cache, so the first of them pays for the features).

To compare two commits side by side, run this file from the project against each
commit's code, alternating: ``PYTHONPATH=OTHER_CHECKOUT/src .venv/bin/python
bench/judging_speed.py`` imports the other commit's ``selfmoa``.
"""

from __future__ import annotations

import argparse
import time

import selfmoa
from selfmoa.core.config import Config
from selfmoa.judges.base import JudgeInput
from selfmoa.judges.registry import JudgeContext, build_judges, run_judges
from selfmoa.judges.source_eval import label_sources, score_sources


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=60, help="rows per source (0 = all)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--per-judge", action="store_true")
    args = parser.parse_args()
    config = Config()
    sources = label_sources(args.rows)
    rows = sum(len(items) for items in sources.values())
    print(f"selfmoa from {selfmoa.__file__}; {rows} rows in {len(sources)} sources")
    for repeat in range(args.repeats):
        # a fresh feature cache each time, as in a new run
        judges = build_judges(config.judge.evaluation_judges, JudgeContext(config))
        start = time.perf_counter()
        score_sources(sources, judges)
        seconds = time.perf_counter() - start
        rate = rows / seconds * 60
        print(f"repeat {repeat + 1}: {seconds:.1f} s, {rate:.0f} rows/min", flush=True)
    if args.per_judge:
        judges = build_judges(config.judge.evaluation_judges, JudgeContext(config))
        items = [item for part in sources.values() for item in part]
        inputs = [JudgeInput(i.prompt, i.label, i.response) for i in items]
        for judge in judges:
            start = time.perf_counter()
            run_judges([judge], inputs)
            print(f"{judge.name}: {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
