"""``selfmoa report RUN_DIR``: rebuild report.md/json/html of a run from its stage outputs."""

from __future__ import annotations

import argparse

from selfmoa.cli.common import run_config

NAME = "report"
HELP = "rebuild report.md/json of a run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")


def execute(args: argparse.Namespace) -> None:
    from selfmoa.pipeline.loop import Loop  # torch: imported only when needed

    print(f"report: {Loop(run_config(args.run_dir)).report_only()}")
