"""Command line: ``selfmoa run|validate|status|report|compare|redteam|train|sweep|export``,
``judges`` and ``serve``.

Thin: each subcommand is one module of this package with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``execute(args)``; this module builds the parser from them and
turns every failure into one line on stderr (exit 2 for bad input, 1 for a bug). Subcommands
that need torch import their pipeline module when they run, so ``--help`` and ``validate``
start fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from selfmoa.cli import (
    compare,
    export,
    judges,
    redteam,
    report,
    run,
    serve,
    status,
    sweep,
    train,
    validate,
)
from selfmoa.cli.common import one_line
from selfmoa.core.errors import SelfMoaError

SUBCOMMANDS = (
    run,
    validate,
    status,
    report,
    compare,
    redteam,
    train,
    sweep,
    export,
    judges,
    serve,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="selfmoa", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.add_arguments(commands.add_parser(module.NAME, help=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    by_name = {module.NAME: module for module in SUBCOMMANDS}
    try:
        by_name[args.command].execute(args)
    except SelfMoaError as error:
        print(f"selfmoa: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nselfmoa: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    except OSError as error:  # a file or folder the command needed: name it, in one line
        where = f" {error.filename}" if error.filename else ""
        reason = one_line(f"cannot use{where}: {error.strerror or error}")
        print(f"selfmoa: error: {reason}", file=sys.stderr)
        return 2
    except Exception as error:  # a bug: one line, exit 1; SELFMOA_DEBUG=1 shows the traceback
        if os.environ.get("SELFMOA_DEBUG"):
            raise
        print(
            f"selfmoa: internal error: {type(error).__name__}: {one_line(str(error))[:300]} "
            "(run again with "
            "SELFMOA_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
