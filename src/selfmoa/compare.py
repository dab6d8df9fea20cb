"""``selfmoa compare RUN_DIR ...``: several runs' final policies side by side (Markdown + HTML)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from selfmoa.atomic import atomic_write_text
from selfmoa.errors import SelfMoaError
from selfmoa.rundir import read_json
from selfmoa.stages.report_html import STYLE, markdown_to_html
from selfmoa.stages.report_sets import pct


def _final(data: dict[str, Any]) -> dict[str, Any]:
    return data["rounds"][-1]["evaluate"] if data["rounds"] else data["baseline"]


def compare_table(runs: dict[str, dict[str, Any]]) -> str:
    sets = sorted({s for data in runs.values() for s in data["baseline"].get("sets", {})})
    header = ["run", "rounds", "ASR (harmbench)", "over-refusal", "helpfulness"] + sets
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, data in runs.items():
        final = _final(data)
        cells = [
            html.escape(name),
            str(len(data["rounds"])),
            pct(final["attack_success"]),
            pct(final["over_refusal"]),
            str(final["helpfulness"]["mean"]),
        ] + [pct(final.get("sets", {}).get(s, {}).get("rate")) for s in sets]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compare(run_dirs: list[str], output: str | None) -> str:
    runs = {}
    for run_dir in run_dirs:
        path = Path(run_dir) / "report" / "report.json"
        if not path.is_file():
            raise SelfMoaError(f"{run_dir} has no report yet: run `selfmoa report {run_dir}`")
        runs[Path(run_dir).name] = read_json(path)
    markdown = "# selfmoa compare\n\nFinal policy of each run (evaluation judges).\n\n"
    markdown += compare_table(runs)
    if output:
        page = markdown_to_html(markdown)
        atomic_write_text(
            Path(output),
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>selfmoa compare</title>'
            f"<style>{STYLE}</style></head><body>{page}</body></html>\n",
        )
    return markdown
