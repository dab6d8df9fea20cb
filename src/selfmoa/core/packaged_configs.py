"""The configs shipped inside the package, found from any folder.

``selfmoa run configs/default.yaml`` works in the checkout (``configs`` links to this package's
``configs/`` folder) and after ``pip install`` anywhere else: a config path that does not exist
is looked up by its file name among the packaged configs.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from selfmoa.core.errors import SelfMoaError

DEFAULT_CONFIG_NAME = "default.yaml"


def packaged_config_dir() -> Path:
    return Path(str(files("selfmoa") / "configs"))


def packaged_config_names() -> list[str]:
    return sorted(path.name for path in packaged_config_dir().glob("*.yaml"))


def resolve_config_path(path: str | Path | None) -> Path:
    """``path`` if it is a file; else the packaged config of that name (``default``,
    ``default.yaml`` or ``configs/default.yaml``); no path means the packaged default."""
    if path is None:
        return packaged_config_dir() / DEFAULT_CONFIG_NAME
    given = Path(path)
    if given.is_file():
        return given
    name = given.name if given.suffix in {".yaml", ".yml"} else f"{given.name}.yaml"
    packaged = packaged_config_dir() / name
    if packaged.is_file() and given.parent in {Path("."), Path("configs")}:
        return packaged
    shipped = ", ".join(packaged_config_names())
    raise SelfMoaError(f"config file not found: {given} (packaged configs: {shipped})")
