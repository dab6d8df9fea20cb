from dataclasses import dataclass

import pytest

from selfmoa.core.chunked import chunk_seed, run_chunked
from selfmoa.core.records import Response
from selfmoa.core.rundir import read_records


@dataclass(frozen=True)
class Job:
    id: str


def process(chunk, index):
    return [
        Response(id=job.id, prompt_id="p", text=f"{job.id}@{chunk_seed(7, index)}", sample_index=0)
        for job in chunk
    ]


def test_resume_after_crash_has_no_duplicates_and_same_content(tmp_path):
    jobs = [Job(f"j{i}") for i in range(10)]
    full = run_chunked(jobs, 3, tmp_path / "full.jsonl", Response, process, desc="t")

    def crashing(chunk, index):
        if index == 2:
            raise KeyboardInterrupt
        return process(chunk, index)

    path = tmp_path / "resumed.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_chunked(jobs, 3, path, Response, crashing, desc="t")
    assert len(read_records(path, Response)) == 6
    resumed = run_chunked(jobs, 3, path, Response, process, desc="t")
    assert resumed == full
    assert len({r.id for r in resumed}) == len(resumed) == 10


def test_partially_written_chunk_only_adds_missing_records(tmp_path):
    jobs = [Job(f"j{i}") for i in range(4)]
    path = tmp_path / "r.jsonl"
    run_chunked(jobs[:1], 4, path, Response, process, desc="t")  # as if killed mid-chunk
    result = run_chunked(jobs, 4, path, Response, process, desc="t")
    assert [r.id for r in result] == ["j0", "j1", "j2", "j3"]
    assert path.read_text().count("\n") == 4
