"""Reading a user's JSONL file line by line, every fault one ``SelfMoaError`` naming the line.

Lines are split on ``\\n`` only (a JSON string may hold U+2028 or a form feed, which
``str.splitlines`` would take for line ends), decoded as strict UTF-8 (a byte-order mark
before the first line is allowed) and parsed as JSON. Invalid UTF-8, a file that cannot
be read and JSON nested too deeply to parse become one line each, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from selfmoa.core.errors import SelfMoaError


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of ``path``, decoded as UTF-8."""
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as error:
                    raise SelfMoaError(
                        f"{path} line {number}: not valid UTF-8 (byte {error.start + 1} of the "
                        "line); save the file as UTF-8"
                    ) from None
    except OSError as error:
        raise SelfMoaError(f"cannot read {path}: {error.strerror or error}") from None


def parse_json(line: str) -> Any:
    """The JSON value of one line; ValueError with a short reason when it is not JSON."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(error.msg) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
