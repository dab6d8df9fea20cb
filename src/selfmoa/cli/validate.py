"""``selfmoa validate [CONFIG] [key=value ...]``: check a config without running anything.

With no CONFIG the packaged default is checked, so it works from any folder.
"""

from __future__ import annotations

import argparse

from selfmoa.cli.common import add_config_arguments
from selfmoa.core.config import load_config
from selfmoa.core.packaged_configs import resolve_config_path
from selfmoa.pipeline.validation import check_config

NAME = "validate"
HELP = "check a config without running it (default: the packaged configs/default.yaml)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, required=False)


def execute(args: argparse.Namespace) -> None:
    config = load_config(args.config, args.overrides)
    check_config(config)
    shown = args.config or resolve_config_path(None)
    print(f"ok: {shown} is valid (run directory {config.run_dir})")
