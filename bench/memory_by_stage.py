"""Peak resident memory per stage of a selfmoa run (Linux only).

    python bench/memory_by_stage.py CONFIG [key=value ...] [--convert]

Runs the loop for CONFIG in this process. Before each stage the kernel's
resident high-water mark is reset (``echo 5 > /proc/self/clear_refs``) and after
it ``VmHWM`` is read from ``/proc/self/status``, so each figure is the peak
resident memory of the whole process while that stage ran (models and caches
kept from earlier stages included). ``--convert`` first measures the one-time
GGUF -> safetensors conversion of the embedded SmolLM2 into a temporary cache.
Stages already done in the run directory are skipped and not measured: give the
config a fresh ``output_dir`` (e.g. ``output_dir=/tmp/mem``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path


def _kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def reset_peak() -> None:
    """Make VmHWM equal to the current resident size (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def mib(kib: int) -> str:
    return f"{kib / 1024:8.0f}"


class StageMeter:
    """A ``Loop`` log callback that records the peak RSS of every stage it sees run."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, int, float]] = []  # label, rss before, peak, seconds
        self.current: tuple[str, int, float] | None = None

    def __call__(self, line: str) -> None:
        print(line, flush=True)
        started = re.match(r"\[(start|resume|rerun[^\]]*)\] (.+)$", line)
        done = re.match(r"\[done\] (.+?) in ", line)
        if started:
            reset_peak()
            self.current = (started.group(2), _kib("VmRSS"), time.time())
        elif done and self.current is not None:
            label, before, t0 = self.current
            self.rows.append((label, before, _kib("VmHWM"), time.time() - t0))
            self.current = None

    def table(self) -> str:
        lines = [
            "| stage | RSS before (MiB) | peak RSS (MiB) | seconds |",
            "|---|---|---|---|",
        ]
        for label, before, peak, seconds in self.rows:
            cells = [label, mib(before).strip(), mib(peak).strip(), f"{seconds:.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def measure_conversion() -> tuple[int, float]:
    from selfmoa.core.embedded import smollm2_folder

    with tempfile.TemporaryDirectory() as cache:
        os.environ["SELFMOA_CACHE"] = cache
        reset_peak()
        t0 = time.time()
        smollm2_folder()
        seconds = time.time() - t0
        peak = _kib("VmHWM")
    del os.environ["SELFMOA_CACHE"]
    return peak, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--convert", action="store_true", help="also measure the GGUF conversion")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from selfmoa.core.config import load_config
    from selfmoa.pipeline.loop import Loop

    conversion = measure_conversion() if args.convert else None
    config = load_config(args.config, args.overrides)
    meter = StageMeter()
    Loop(config, log=meter).execute()
    print()
    print(meter.table())
    if conversion is not None:
        peak, seconds = conversion
        print(f"| GGUF conversion (once) | - | {mib(peak).strip()} | {seconds:.0f} |")
    highest = max((peak for _, _, peak, _ in meter.rows), default=0)
    print(f"\nhighest stage peak: {mib(highest).strip()} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
