"""Per-request sampling seeds: one per answer, derived from the chunk seed and its index.

A server (or vLLM) answers requests in whatever order and batch they arrive in, so a
single seed per call cannot make sampling reproducible. Each request instead carries
its own seed, a hash of the chunk's seed and the request's position in the chunk: the
same chunk gives the same seeds whatever the concurrency.
"""

from __future__ import annotations

import hashlib

SEED_RANGE = 2**31 - 1  # servers take a non-negative 32-bit signed integer


def request_seed(chunk_seed: int, index: int) -> int:
    """Seed of the ``index``-th request of a chunk generated with ``chunk_seed``."""
    digest = hashlib.sha256(f"{chunk_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_RANGE
