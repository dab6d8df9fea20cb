"""Run directory: append-only JSONL, the run's schema stamp, and a manifest per stage.

A stage is *done* when its ``manifest.json`` exists (written last, atomically)
and carries the fingerprint the current inputs ask for. A stage folder with a
matching ``started.json`` but no manifest is *partial* and is resumed; a folder
with any other fingerprint is *stale* and its files are removed before the
stage runs again. A manifest also records the sha256 of each output the stage
declares, so that the stages reading it can fingerprint its content, not only
its config.

What selfmoa trusts: a run directory is selfmoa's only when it carries the
marker ``selfmoa.json`` (written when selfmoa created the folder, or found it
empty); any other existing folder is refused, never written to or cleaned. A
stale stage removes only the files it wrote: those its manifest lists, or, for
a stage that never finished, those written since it started; files that were
there before it started (``started.json``'s ``kept``) stay. The lock file is
opened without following symbolic links and is never truncated.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from selfmoa.core.atomic import (
    atomic_write_json,
    atomic_write_text,
    disk_error,
    hold_lock,
    open_regular,
)
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.faults import fault_point, kill_requested
from selfmoa.core.records import SCHEMA_VERSION

RecordT = TypeVar("RecordT", bound=BaseModel)
StageState = Literal["done", "partial", "stale", "pending"]
OLDER_RUN = "this run directory was written by an older selfmoa; use a new run name"


def round_name(round_index: int) -> str:
    """The folder (and policy label) of a round: ``round_00``, ``round_01``, ..."""
    return f"round_{round_index:02d}"


def stage_folder(name: str, round_index: int | None, scope: str) -> str:
    """A stage's folder inside the run: ``round_NN/NAME``, ``baseline/NAME`` or ``NAME``."""
    if scope == "round":
        assert round_index is not None
        return f"{round_name(round_index)}/{name}"
    return f"baseline/{name}" if scope == "baseline" else name


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise SelfMoaError(f"cannot read {path}: {_reason(error)}") from None


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON file that must hold an object; anything else is one line naming the file."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise SelfMoaError(
            f"{path} is not a {what} selfmoa wrote (it holds a JSON {type(data).__name__}); "
            "delete it, or the run directory, and run again"
        )
    return data


def _names(value: Any) -> set[str]:
    """File names listed in a bookkeeping file; anything but a list of strings is none."""
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file; a torn last line (killed mid-write) is ignored."""
    if not path.is_file():
        return
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return  # torn write: the rest of this line never landed
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                row = None
            if not isinstance(row, dict):
                raise SelfMoaError(
                    f"{path} line {number} is not a JSON record; delete that stage's folder "
                    "and run again"
                )
            yield row


def read_records(path: Path, kind: type[RecordT]) -> list[RecordT]:
    """Records of a JSONL file, first occurrence of each id wins."""
    seen: set[str] = set()
    records: list[RecordT] = []
    for number, row in enumerate(iter_jsonl(path), start=1):
        try:
            record = kind.model_validate(row)
        except ValidationError:
            raise SelfMoaError(
                f"{path} record {number} does not match this selfmoa's {kind.__name__} schema; "
                f"{OLDER_RUN}"
            ) from None
        record_id = getattr(record, "id", None)
        if record_id is not None:
            if record_id in seen:
                continue
            seen.add(record_id)
        records.append(record)
    return records


def append_records(path: Path, records: Iterable[BaseModel], label: str = "") -> None:
    """Append whole lines and fsync, after cutting any torn last line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(record_line(record) for record in records).encode()
    if not data:
        return
    _cut_torn_tail(path)
    size = path.stat().st_size if path.exists() else 0
    try:
        with os.fdopen(open_regular(path, os.O_WRONLY | os.O_APPEND, "the file"), "ab") as handle:
            if kill_requested(f"{label}:torn"):
                handle.write(data[: len(data) // 2 + 1])
                handle.flush()
                os.fsync(handle.fileno())
                fault_point(f"{label}:torn")
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        with os.fdopen(open_regular(path, os.O_WRONLY, "the file"), "ab") as handle:
            handle.truncate(size)  # leave only whole lines behind
        raise disk_error(error, path) from None


def write_records(path: Path, records: Iterable[BaseModel]) -> None:
    atomic_write_text(path, "".join(record_line(record) for record in records))


def record_line(record: BaseModel) -> str:
    """One JSONL line. Model text may hold a lone surrogate (a cut emoji), which UTF-8
    cannot encode: such a record is written with ASCII escapes (``\\ud83d``), which reads
    back as the same text."""
    try:
        return record.model_dump_json() + "\n"
    except PydanticSerializationError:
        return json.dumps(record.model_dump(mode="json"), ensure_ascii=True) + "\n"


def _cut_torn_tail(path: Path) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        return
    with os.fdopen(open_regular(path, os.O_RDWR, "the file"), "rb+") as handle:
        data = handle.read()
        if data.endswith(b"\n"):
            return
        handle.truncate(data.rfind(b"\n") + 1)


def sha256_of(path: Path) -> str:
    """Content hash of a file, or of a folder's files (relative names and contents)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file != path:
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class StageDir:
    """One stage's folder, e.g. ``runs/NAME/round_00/sample/``, and its bookkeeping."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label

    def file(self, name: str) -> Path:
        return self.path / name

    def manifest(self) -> dict[str, Any] | None:
        path = self.file("manifest.json")
        return read_json_object(path, "stage manifest") if path.is_file() else None

    def started(self) -> dict[str, Any] | None:
        path = self.file("started.json")
        return read_json_object(path, "stage start record") if path.is_file() else None

    def state(self, fingerprint: str | None) -> StageState:
        """State against the expected fingerprint (None: an upstream is not done yet)."""
        manifest = self.manifest()
        if manifest is not None:
            return "done" if manifest.get("fingerprint") == fingerprint else "stale"
        started = self.started()
        if started is not None:
            return "partial" if started.get("fingerprint") == fingerprint else "stale"
        return "stale" if self.path.exists() and any(self.path.iterdir()) else "pending"

    def begin(self, fingerprint: str) -> StageState:
        """Prepare to run: clear a stale folder, keep a partial one. Returns the prior state."""
        state = self.state(fingerprint)
        if state == "stale":
            self.clear()
        if state in ("stale", "pending"):
            self.mark_started(fingerprint)
        return state

    def mark_started(self, fingerprint: str | None) -> None:
        """Record the start; files already here are ``kept``: never listed, never removed."""
        kept = sorted(self.files())
        atomic_write_json(
            self.file("started.json"),
            {"fingerprint": fingerprint, "started": time.time(), "kept": kept},
        )

    def files(self) -> set[str]:
        """Relative paths of the files under the folder (symbolic links count as files)."""
        if not self.path.is_dir():
            return set()
        return {
            p.relative_to(self.path).as_posix()
            for p in self.path.rglob("*")
            if p.is_symlink() or p.is_file()
        }

    def written_files(self) -> set[str]:
        """The files this stage wrote: those its manifest lists, or, when it never finished,
        those changed since it started; never those it found there (``kept``)."""
        manifest, started = self.manifest(), self.started()
        present = self.files()
        own = {"manifest.json", "started.json"} & present
        if manifest is not None and isinstance(manifest.get("files"), list):
            return own | (present & _names(manifest["files"]))
        kept = _names((started or {}).get("kept"))
        if started is None:
            return own
        # the file system's clock for both sides: started.json was written at the start
        since = self.file("started.json").lstat().st_mtime_ns
        for name in present - kept - own:
            if (self.path / name).lstat().st_mtime_ns >= since:
                own.add(name)
        return own

    def clear(self) -> None:
        """Remove the files this stage wrote, then the folders they leave empty."""
        if self.path.is_symlink():
            raise SelfMoaError(
                f"{self.path} is a symbolic link, not a folder selfmoa made; remove the link"
            )
        # the manifest first and started.json last: a kill in between leaves a stage that
        # is still stale and still knows which files are its own
        order = {"manifest.json": 0, "started.json": 2}
        for name in sorted(self.written_files(), key=lambda n: (order.get(n, 1), n)):
            (self.path / name).unlink(missing_ok=True)
        for folder in sorted(
            (p for p in self.path.rglob("*") if p.is_dir() and not p.is_symlink()),
            key=lambda p: len(p.parts),
            reverse=True,
        ):
            if not any(folder.iterdir()):
                folder.rmdir()

    def output_hashes(self, outputs: Iterable[str]) -> dict[str, str]:
        hashes = {}
        for name in outputs:
            path = self.file(name)
            if not path.exists():
                raise SelfMoaError(f"{self.label} finished without writing {path}")
            hashes[name] = sha256_of(path)
        return hashes

    def verify_outputs(self) -> None:
        """Fail if a finished stage's outputs were changed or damaged after it finished."""
        recorded = (self.manifest() or {}).get("outputs", {})
        for name, expected in recorded.items():
            path = self.file(name)
            if path.exists() and sha256_of(path) == expected:
                continue
            if path.suffix == ".jsonl" and path.is_file():
                for _ in iter_jsonl(path):  # names the damaged line, if one is
                    pass
            raise SelfMoaError(
                f"{path} changed after {self.label} finished; delete {self.path} to recompute it"
            )

    def finish(
        self,
        fingerprint: str,
        inputs: dict[str, Any],
        outputs: dict[str, str],
        counts: dict[str, Any],
        seconds: float,
        device: str | None = None,
    ) -> None:
        kept = _names((self.started() or {}).get("kept"))
        written = sorted(self.files() - kept - {"manifest.json"})
        atomic_write_json(
            self.file("manifest.json"),
            {
                "stage": self.label,
                "fingerprint": fingerprint,
                "files": written,
                "inputs": inputs,
                "outputs": outputs,
                "counts": counts,
                "device": device,
                "seconds": round(seconds, 2),
                "finished": time.time(),
            },
        )


class RunDir:
    """``runs/NAME/``: config.yaml, selfmoa.json, events.jsonl, stage folders, report/."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stage(self, folder: str, label: str) -> StageDir:
        return StageDir(self.path / folder, label)

    def round_stage(self, name: str, round_index: int) -> Path:
        """The folder of stage ``name`` of a round: ``round_NN/NAME``."""
        return self.path / stage_folder(name, round_index, "round")

    def baseline_stage(self, name: str) -> Path:
        """The folder of a stage run once before the rounds: ``baseline/NAME``."""
        return self.path / stage_folder(name, None, "baseline")

    def run_stage(self, name: str) -> Path:
        """The folder of a stage run once per run: ``NAME`` (e.g. ``report``)."""
        return self.path / stage_folder(name, None, "run")

    def rounds_with(self, name: str) -> list[int]:
        """Rounds, in order, that have a folder for stage ``name`` (finished or not)."""
        found = []
        for folder in sorted(self.path.glob(f"round_*/{name}")):
            index = folder.parent.name.removeprefix("round_")
            if index.isdigit() and folder.parent.name == round_name(int(index)):
                found.append(int(index))
        return found

    @property
    def config_file(self) -> Path:
        """The config the run was last executed with."""
        return self.path / "config.yaml"

    @property
    def report_file(self) -> Path:
        """The report the ``report`` stage writes (``report.json`` and ``.html`` beside it)."""
        return self.run_stage("report") / "report.md"

    @property
    def judge_cache_file(self) -> Path:
        """Judge scores shared by every stage of the run (``judges/cache.py``)."""
        return self.path / "cache" / "judge_scores.jsonl"

    def export_folder(self, round_index: int) -> Path:
        """Where ``selfmoa export`` writes round ``round_index`` by default."""
        return self.path / "export" / round_name(round_index)

    @property
    def external_train_folder(self) -> Path:
        """Where ``selfmoa train --pairs`` trains by default."""
        return self.path / "external_train"

    @property
    def stamp(self) -> Path:
        return self.path / "selfmoa.json"

    def check_schema(self, create: bool) -> None:
        """Refuse a folder selfmoa did not create, a run written with another record schema,
        or a run holding a symbolic link. ``create``: make the folder (or claim an empty
        one) and mark it as a run."""
        if self.stamp.is_file() or self.stamp.is_symlink():
            self.refuse_links()
            found = read_json_object(self.stamp, "run marker").get("schema")
            if found != SCHEMA_VERSION:
                raise SelfMoaError(f"{self.path}: {OLDER_RUN}")
            return
        if self.path.is_dir() and any(self.path.glob("*/*/manifest.json")):
            raise SelfMoaError(f"{self.path}: {OLDER_RUN}")
        if self.path.exists() and not self.path.is_dir():
            raise SelfMoaError(f"{self.path} is a file, not a run directory; choose another name")
        if self.path.is_dir() and any(self.path.iterdir()):
            raise SelfMoaError(
                f"{self.path} exists and was not made by selfmoa (no selfmoa.json), so selfmoa "
                "will not write to it or clean it; choose another name or output_dir"
            )
        if not create:
            raise SelfMoaError(f"{self.path} is not a selfmoa run directory (no selfmoa.json)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SelfMoaError(
                f"cannot create run directory {self.path}: {_reason(error)}"
            ) from None
        atomic_write_json(self.stamp, {"schema": SCHEMA_VERSION})

    def refuse_links(self) -> None:
        """selfmoa never makes a symbolic link inside a run, so it follows none: a planted
        link (to another run, to a user's file) would turn a stage's writes and clean-ups
        into writes and deletions outside the run."""
        for folder, subfolders, files in os.walk(self.path):
            for name in (*subfolders, *files):
                path = Path(folder) / name
                if path.is_symlink():
                    raise SelfMoaError(
                        f"{path} is a symbolic link inside the run directory; selfmoa does not "
                        "follow links there: remove it"
                    )

    def lock(self) -> Any:
        """Hold an exclusive lock on the run for this process (freed when it exits or dies).
        The run must be selfmoa's (``check_schema`` first)."""
        return hold_lock(self.path / ".lock", f"another selfmoa process is running on {self.path}")

    def log_event(self, event: str, **fields: Any) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        row = {"time": round(time.time(), 3), "event": event, **fields}
        try:
            events = open_regular(self.path / "events.jsonl", os.O_WRONLY | os.O_APPEND, "the file")
            with os.fdopen(events, "a") as handle:
                handle.write(json.dumps(row) + "\n")
        except OSError as error:
            raise disk_error(error, self.path / "events.jsonl") from None

    @property
    def report_record_file(self) -> Path:
        """report.json, the report as a typed record (``pipeline/report_record.py``)."""
        return self.report_file.with_name("report.json")

    @property
    def cache_folder(self) -> Path:
        """The run's shared caches (the judge score cache); copied into sweep policies."""
        return self.judge_cache_file.parent

    @property
    def sweep_folder(self) -> Path:
        """``selfmoa sweep``: a run per policy under it, and sweep.md/.json/.html."""
        return self.path / "sweep"
