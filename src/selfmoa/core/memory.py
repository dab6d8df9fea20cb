"""Giving freed heap memory back to the operating system between stages.

glibc's malloc keeps freed blocks of its arenas mapped; after a stage that held
gigabytes of temporary tensors (training activations, a batch's logits), the
process stays that large and the next stage's allocations land in a fragmented
heap. ``malloc_trim(0)`` returns every free page. It changes no computed value.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import lru_cache


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def release_free_memory() -> bool:
    """Collect garbage, then trim the C heap; False where malloc_trim is unavailable."""
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
