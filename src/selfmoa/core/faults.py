"""Fault injection for the kill-and-resume tests: named points where a run may die.

The loop calls ``fault_point(label)`` after each durable step (a chunk appended,
a stage begun or finished, a training step checkpointed, a report written).
Two environment variables, read once, drive it; unset, a point costs one
dictionary lookup:

- ``SELFMOA_TRACE_POINTS=FILE`` appends every label reached to FILE, so a test
  can list the points of an uninterrupted run;
- ``SELFMOA_KILL_AT=LABEL`` makes the process SIGKILL itself on reaching LABEL,
  exactly as an out-of-memory kill or a pulled plug would stop it.

``torn_write_point(label)`` is where a kill lands in the middle of a write:
the caller has written part of a line and the rest never reaches the disk.
"""

from __future__ import annotations

import os
import signal

_TRACE = os.environ.get("SELFMOA_TRACE_POINTS")
_KILL_AT = os.environ.get("SELFMOA_KILL_AT")


def fault_point(label: str) -> None:
    if _TRACE is not None:
        with open(_TRACE, "a") as handle:
            handle.write(label + "\n")
    if _KILL_AT is not None and label == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)


def kill_requested(label: str) -> bool:
    """True when the process is to die at ``label`` (used to tear a write first)."""
    return _KILL_AT is not None and label == _KILL_AT
