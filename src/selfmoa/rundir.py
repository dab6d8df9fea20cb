"""Run directory: atomic files, append-only JSONL, and a manifest per stage.

A stage is *done* when its ``manifest.json`` exists (written last, atomically)
and carries the fingerprint the current config asks for. A stage folder with a
matching ``started.json`` but no manifest is *partial* and is resumed; a folder
with any other fingerprint is *stale* and is wiped before the stage runs again.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from selfmoa.errors import SelfMoaError

RecordT = TypeVar("RecordT", bound=BaseModel)
StageState = Literal["done", "partial", "stale", "pending"]


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SelfMoaError(f"cannot read {path}: {error}") from None


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file; a torn last line (killed mid-write) is ignored."""
    if not path.is_file():
        return
    with open(path) as handle:
        for line in handle:
            if not line.endswith("\n"):
                return  # torn write: the rest of this line never landed
            line = line.strip()
            if line:
                yield json.loads(line)


def read_records(path: Path, kind: type[RecordT]) -> list[RecordT]:
    """Records of a JSONL file, first occurrence of each id wins."""
    seen: set[str] = set()
    records: list[RecordT] = []
    for row in iter_jsonl(path):
        record = kind.model_validate(row)
        record_id = getattr(record, "id", None)
        if record_id is not None:
            if record_id in seen:
                continue
            seen.add(record_id)
        records.append(record)
    return records


def append_records(path: Path, records: Iterable[BaseModel]) -> None:
    """Append whole lines and fsync, after cutting any torn last line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _cut_torn_tail(path)
    lines = "".join(record.model_dump_json() + "\n" for record in records)
    if not lines:
        return
    with open(path, "a") as handle:
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())


def write_records(path: Path, records: Iterable[BaseModel]) -> None:
    atomic_write_text(path, "".join(record.model_dump_json() + "\n" for record in records))


def _cut_torn_tail(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return
        handle.truncate(data.rfind(b"\n") + 1)


class StageDir:
    """One stage of one round: ``runs/NAME/round_00/sample/`` and its bookkeeping."""

    def __init__(self, path: Path, name: str, round_index: int | None) -> None:
        self.path = path
        self.name = name
        self.round = round_index

    @property
    def label(self) -> str:
        return f"baseline {self.name}" if self.round is None else f"round {self.round} {self.name}"

    def file(self, name: str) -> Path:
        return self.path / name

    def manifest(self) -> dict[str, Any] | None:
        path = self.file("manifest.json")
        return read_json(path) if path.is_file() else None

    def state(self, fingerprint: str) -> StageState:
        manifest = self.manifest()
        if manifest is not None:
            return "done" if manifest.get("fingerprint") == fingerprint else "stale"
        started = self.file("started.json")
        if started.is_file():
            return "partial" if read_json(started).get("fingerprint") == fingerprint else "stale"
        return "stale" if self.path.exists() and any(self.path.iterdir()) else "pending"

    def begin(self, fingerprint: str) -> StageState:
        """Prepare to run: wipe a stale folder, keep a partial one. Returns the prior state."""
        state = self.state(fingerprint)
        if state == "stale":
            shutil.rmtree(self.path)
        if state in ("stale", "pending"):
            atomic_write_json(
                self.file("started.json"), {"fingerprint": fingerprint, "started": time.time()}
            )
        return state

    def finish(self, fingerprint: str, counts: dict[str, Any], seconds: float) -> None:
        atomic_write_json(
            self.file("manifest.json"),
            {
                "stage": self.name,
                "round": self.round,
                "fingerprint": fingerprint,
                "counts": counts,
                "seconds": round(seconds, 2),
                "finished": time.time(),
            },
        )


class RunDir:
    """``runs/NAME/``: config.yaml, events.jsonl, baseline/, round_XX/, report.*"""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stage(self, name: str, round_index: int | None = None) -> StageDir:
        """``baseline/NAME`` when ``round_index`` is None, else ``round_XX/NAME``."""
        group = "baseline" if round_index is None else f"round_{round_index:02d}"
        folder = self.path / group / name
        return StageDir(folder, name, round_index)

    def lock(self) -> Any:
        """Hold an exclusive lock on the run for this process (freed when it exits or dies)."""
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / ".lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SelfMoaError(
                f"another selfmoa process is running on {self.path}; wait for it or stop it"
            ) from None
        return handle

    def log_event(self, event: str, **fields: Any) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        row = {"time": round(time.time(), 3), "event": event, **fields}
        with open(self.path / "events.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")
