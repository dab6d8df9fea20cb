"""``selfmoa compare RUN_DIR ...``: several runs side by side (Markdown table, optional HTML)."""

from __future__ import annotations

import argparse

from selfmoa.pipeline.compare import compare

NAME = "compare"
HELP = "several runs side by side (table and HTML)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--html", help="also write the comparison as an HTML page here")


def execute(args: argparse.Namespace) -> None:
    print(compare(args.run_dirs, args.html))
