"""``selfmoa compare RUN_DIR ...``: several runs' final policies side by side (Markdown + HTML).

Runs are keyed by their absolute path and labelled by the shortest path suffix that tells
them apart (``cmpA/demo`` and ``cmpB/demo``). Everything shown is escaped with
``selfmoa.core.text_safety``. Each run's report.json is read through ``ReportRecord``: one
that is missing, damaged, of a newer schema or not a report becomes one error line.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from selfmoa.core.atomic import atomic_write_bytes
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.rundir import RunDir
from selfmoa.core.text_safety import md_text, md_value, utf8, visible
from selfmoa.pipeline.report_record import Rate, ReportRecord
from selfmoa.pipeline.stages.report_html import STYLE, markdown_to_html
from selfmoa.pipeline.stages.report_sets import pct


def labels(paths: list[Path]) -> list[str]:
    """For distinct absolute paths, the shortest common number of trailing parts that
    tells them apart (the folder names where those differ)."""
    for count in range(1, max((len(p.parts) for p in paths), default=0) + 1):
        shown = [str(PurePath(*p.parts[-count:])) for p in paths]
        if len(set(shown)) == len(shown):
            return shown
    return [str(p) for p in paths]


def _pct(rate: Rate | None) -> str:
    return pct(rate.model_dump() if rate else None)


def _row(record: ReportRecord) -> tuple[list[str], dict[str, str], list[str]]:
    """(first cells, ASR cell per set, set names) of one report."""
    final = record.final
    cells = [
        str(len(record.rounds)),
        _pct(final.attack_success),
        _pct(final.over_refusal),
        md_value(final.helpfulness.mean),
    ]
    per_set = {name: _pct(summary.rate) for name, summary in final.sets.items()}
    return cells, per_set, list(record.baseline.sets)


def compare_table(runs: dict[str, ReportRecord]) -> str:
    """The Markdown table of runs (label -> report record)."""
    rows = {label: _row(record) for label, record in runs.items()}
    sets = sorted({name for _, _, names in rows.values() for name in names})
    header = ["run", "rounds", "ASR (harmbench)", "over-refusal", "helpfulness"]
    header += [md_text(name) for name in sets]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for label, (cells, per_set, _) in rows.items():
        cells = [md_text(label), *cells] + [per_set.get(name, "-") for name in sets]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _load(run_dir: str) -> ReportRecord:
    path = RunDir(Path(run_dir)).report_record_file
    if not path.is_file():
        raise SelfMoaError(
            f"{visible(run_dir)} has no report yet ({visible(str(path))} is missing): "
            f"run `selfmoa report {visible(run_dir)}`"
        )
    return ReportRecord.load(path)


def _html_target(output: str) -> Path:
    """The --html file, checked before any work: an existing folder's file, not a folder."""
    target = Path(output)
    shown = visible(output)
    if target.is_dir():
        raise SelfMoaError(
            f"--html {shown} is a folder; give a file in it, e.g. {shown}/compare.html"
        )
    if not target.parent.is_dir():
        raise SelfMoaError(
            f"--html {shown}: {visible(str(target.parent))} is not an existing folder; "
            "create it first or write the page elsewhere"
        )
    return target


def compare(run_dirs: list[str], output: str | None) -> str:
    target = _html_target(output) if output else None
    by_path: dict[Path, ReportRecord] = {}
    for run_dir in run_dirs:
        by_path.setdefault(Path(os.path.abspath(run_dir)), _load(run_dir))
    runs = dict(zip(labels(list(by_path)), by_path.values(), strict=True))
    markdown = "# selfmoa compare\n\nFinal policy of each run (evaluation judges).\n\n"
    markdown += compare_table(runs)
    if target is not None:
        page = markdown_to_html(markdown)
        atomic_write_bytes(
            target,
            utf8(
                '<!DOCTYPE html><html><head><meta charset="utf-8"><title>selfmoa compare</title>'
                f"<style>{STYLE}</style></head><body>{page}</body></html>\n"
            ),
        )
    return markdown
