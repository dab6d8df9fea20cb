"""Command line: ``selfmoa run|status|report|compare|validate|redteam|train|sweep|export|judges``.

Thin: parse, then call.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from selfmoa.core.config import Config, load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.rundir import RunDir
from selfmoa.core.text_safety import visible


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="selfmoa", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run (or continue) the loop for a config")
    run.add_argument("config", help="YAML config, e.g. configs/default.yaml")
    run.add_argument("overrides", nargs="*", help="dotted key=value, e.g. rounds=2")
    validate = commands.add_parser("validate", help="check a config without running it")
    validate.add_argument("config")
    validate.add_argument("overrides", nargs="*")
    status = commands.add_parser("status", help="show which stages of a run are done")
    status.add_argument("run_dir")
    report = commands.add_parser("report", help="rebuild report.md/json of a run")
    report.add_argument("run_dir")
    compare = commands.add_parser("compare", help="several runs side by side (table and HTML)")
    compare.add_argument("run_dirs", nargs="+")
    compare.add_argument("--html", help="also write the comparison as an HTML page here")
    from selfmoa.cli.redteam import add_arguments as add_redteam_arguments

    add_redteam_arguments(
        commands.add_parser("redteam", help="red-team a model (no training); attack table")
    )
    train = commands.add_parser(
        "train", help="train the policy on TRL-format pairs from a file (prompt/chosen/rejected)"
    )
    train.add_argument("config")
    train.add_argument("overrides", nargs="*")
    train.add_argument(
        "--pairs",
        required=True,
        help=".jsonl or .parquet in TRL's format, or hf:NAME[:SPLIT] for a datasets id "
        "(a hub id where the hub is reachable, or a local folder of data files)",
    )
    train.add_argument("--out", help="output folder (default RUN_DIR/external_train)")
    train.add_argument(
        "--objective",
        default="safety",
        help="objective of rows without an 'objective' column (safety, helpfulness or an "
        "extra objective of the config)",
    )
    sweep = commands.add_parser(
        "sweep",
        help="one adapter per objective-weight vector on the same pairs; Pareto table",
    )
    sweep.add_argument("config")
    sweep.add_argument("overrides", nargs="*")
    sweep.add_argument(
        "--weights",
        nargs="+",
        default=[],
        metavar="W",
        help="weight vectors, e.g. safety=1,helpfulness=0 safety=1,helpfulness=0.5 "
        "(default: the config's train.objective_weights)",
    )
    sweep.add_argument(
        "--pair-budgets",
        nargs="+",
        type=int,
        default=[],
        metavar="N",
        help="train each weight vector on seeded samples of N pairs (data-efficiency curve)",
    )
    export = commands.add_parser(
        "export", help="adapter, merged model folder and TRL-format pairs of a trained round"
    )
    export.add_argument("run_dir")
    export.add_argument("--round", type=int, help="round to export (default: the last trained)")
    export.add_argument("--out", help="output folder (default RUN_DIR/export/round_NN)")
    export.add_argument("--no-parquet", action="store_true", help="write pairs.jsonl only")
    from selfmoa.cli.judges import add_commands as add_judges_commands

    add_judges_commands(commands.add_parser("judges", help="score files with judges; measure them"))
    return parser


def _run_config(run_dir: str) -> Config:
    RunDir(Path(run_dir)).check_schema(create=False)  # a folder selfmoa made, or one line
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise SelfMoaError(f"{run_dir} is not a selfmoa run directory (no config.yaml)")
    config = load_config(path)
    # The run may have been moved: trust the folder we were given.
    return config.model_copy(
        update={"output_dir": str(Path(run_dir).parent), "name": Path(run_dir).name}
    )


def _one_line(text: str) -> str:
    """An error for the terminal: one line (library messages may span several), control
    characters from file contents or names shown as text, never replayed."""
    return " ".join(visible(text).split())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            from selfmoa.pipeline.validation import check_config

            config = load_config(args.config, args.overrides)
            check_config(config)
            print(f"ok: {args.config} is valid (run directory {config.run_dir})")
        elif args.command == "run":
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from selfmoa.pipeline.loop import Loop

            config = load_config(args.config, args.overrides)
            report = Loop(config).execute()
            print(f"\nreport: {report}\n(also {report.with_suffix('.json')})")
        elif args.command == "status":
            from selfmoa.pipeline.status import print_status

            print_status(_run_config(args.run_dir))
        elif args.command == "report":
            from selfmoa.pipeline.loop import Loop

            print(f"report: {Loop(_run_config(args.run_dir)).report_only()}")
        elif args.command == "compare":
            from selfmoa.pipeline.compare import compare

            print(compare(args.run_dirs, args.html))
        elif args.command == "redteam":
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from selfmoa.cli.redteam import run as run_redteam_command

            run_redteam_command(args)
        elif args.command == "train":
            from selfmoa.pipeline.external_train import train_on_file

            config = load_config(args.config, args.overrides)
            out = Path(args.out) if args.out else None
            adapter, stats = train_on_file(config, args.pairs, out, args.objective)
            if int(os.environ.get("RANK", "0")) == 0:  # once under a launcher
                print(f"adapter: {adapter} ({stats['steps']} steps on {stats['pairs']} pairs)")
        elif args.command == "sweep":
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from selfmoa.pipeline.sweep import run_sweep, weights_argument

            config = load_config(args.config, args.overrides)
            table = run_sweep(
                config, weights_argument(args.weights), pair_budgets=args.pair_budgets
            )
            print(f"\nsweep: {table}")
        elif args.command == "export":
            from selfmoa.pipeline.export import export_run

            out = Path(args.out) if args.out else None
            folder = export_run(_run_config(args.run_dir), out, args.round, not args.no_parquet)
            print(f"exported: {folder} (adapter/, merged/, pairs.jsonl)")
        elif args.command == "judges":
            from selfmoa.cli.judges import run as run_judges_command

            run_judges_command(args)
    except SelfMoaError as error:
        print(f"selfmoa: error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nselfmoa: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    except OSError as error:  # a file or folder the command needed: name it, in one line
        where = f" {error.filename}" if error.filename else ""
        reason = _one_line(f"cannot use{where}: {error.strerror or error}")
        print(f"selfmoa: error: {reason}", file=sys.stderr)
        return 2
    except Exception as error:  # a bug: one line, exit 1; SELFMOA_DEBUG=1 shows the traceback
        if os.environ.get("SELFMOA_DEBUG"):
            raise
        print(
            f"selfmoa: internal error: {type(error).__name__}: {_one_line(str(error))[:300]} "
            "(run again with "
            "SELFMOA_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
