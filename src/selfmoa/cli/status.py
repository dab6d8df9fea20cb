"""``selfmoa status RUN_DIR``: which stages of a run are done, stale or still to run."""

from __future__ import annotations

import argparse

from selfmoa.cli.common import run_config

NAME = "status"
HELP = "show which stages of a run are done"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")


def execute(args: argparse.Namespace) -> None:
    from selfmoa.pipeline.status import print_status  # torch: through the stage table

    print_status(run_config(args.run_dir))
