"""Resumable batched work: jobs in fixed chunks, one JSONL line per finished job.

Chunk boundaries depend only on the job list, and each chunk's random seed only
on its index, so a chunk regenerated after a kill gives the same records it
would have given the first time. Records already on disk are never rewritten.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from tqdm.auto import tqdm

from selfmoa.core.faults import fault_point
from selfmoa.core.records import Record
from selfmoa.core.rundir import append_records, read_records


class HasId(Protocol):
    @property
    def id(self) -> str: ...


JobT = TypeVar("JobT", bound=HasId)
RecordT = TypeVar("RecordT", bound=Record)


def chunk_seed(*parts: object) -> int:
    return int(hashlib.sha256("-".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def run_chunked(
    jobs: Sequence[JobT],
    chunk_size: int,
    path: Path,
    kind: type[RecordT],
    process: Callable[[list[JobT], int], list[RecordT]],
    desc: str,
    fault_label: str = "",
    job_of: Callable[[RecordT], str] = lambda record: record.id,
    records_per_job: int = 1,
) -> list[RecordT]:
    """Run ``process(chunk, chunk_index)`` for every chunk with a job not yet on disk.

    ``job_of`` maps a record to the id of the job that made it (by default the record's
    own id); a job that makes several records (one judgement per judge) is done when
    ``records_per_job`` of them are on disk, so a write torn inside a job redoes it.
    """
    records = read_records(path, kind)
    written = {record.id for record in records}
    per_job = Counter(job_of(record) for record in records)
    done = {job for job, count in per_job.items() if count >= records_per_job}
    chunks = [list(jobs[i : i + chunk_size]) for i in range(0, len(jobs), chunk_size)]
    todo = [(i, chunk) for i, chunk in enumerate(chunks) if any(j.id not in done for j in chunk)]
    with tqdm(total=len(chunks), initial=len(chunks) - len(todo), desc=desc, unit="batch") as bar:
        for index, chunk in todo:
            fresh = [record for record in process(chunk, index) if record.id not in written]
            append_records(path, fresh, f"{fault_label}:chunk{index}")
            done.update(job.id for job in chunk)
            written.update(record.id for record in fresh)
            fault_point(f"{fault_label}:chunk{index}")
            bar.update(1)
    return read_records(path, kind)
