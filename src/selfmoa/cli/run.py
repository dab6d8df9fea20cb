"""``selfmoa run CONFIG [key=value ...]``: run (or continue) the loop for a config."""

from __future__ import annotations

import argparse
import os

from selfmoa.cli.common import add_config_arguments
from selfmoa.core.config import load_config

NAME = "run"
HELP = "run (or continue) the loop for a config"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def execute(args: argparse.Namespace) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from selfmoa.pipeline.loop import Loop  # torch: imported only when a run starts

    report = Loop(load_config(args.config, args.overrides)).execute()
    print(f"\nreport: {report}\n(also {report.with_suffix('.json')})")
