"""What several subcommands share: the config of an existing run directory, one-line errors."""

from __future__ import annotations

from pathlib import Path

from selfmoa.core.config import Config, load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.rundir import RunDir
from selfmoa.core.text_safety import visible


def run_config(run_dir: str) -> Config:
    """The config a run directory was made with, pointed at the folder we were given."""
    run = RunDir(Path(run_dir))
    run.check_schema(create=False)  # a folder selfmoa made, or one line
    path = run.config_file
    if not path.is_file():
        raise SelfMoaError(f"{run_dir} is not a selfmoa run directory (no config.yaml)")
    config = load_config(path)
    # The run may have been moved: trust the folder we were given.
    return config.model_copy(
        update={"output_dir": str(Path(run_dir).parent), "name": Path(run_dir).name}
    )


def one_line(text: str) -> str:
    """An error for the terminal: one line (library messages may span several), control
    characters from file contents or names shown as text, never replayed."""
    return " ".join(visible(text).split())


def add_config_arguments(parser, required: bool = True) -> None:  # type: ignore[no-untyped-def]
    """``CONFIG [key=value ...]``; without ``required`` the packaged default is used."""
    if required:
        parser.add_argument("config", help="YAML config, e.g. configs/default.yaml")
    else:
        parser.add_argument(
            "config", nargs="?", help="YAML config (default: the packaged configs/default.yaml)"
        )
    parser.add_argument("overrides", nargs="*", help="dotted key=value, e.g. rounds=2")
