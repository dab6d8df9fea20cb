"""The report stage: report.md and report.json from the finished stages of a run.

report.json is written through ``ReportRecord`` (validated first, with its schema
version). The documents are written as ``selfmoa.core.text_safety.utf8`` bytes, so a lone
surrogate that reached them unescaped is written as ``\\udXXX`` instead of failing the stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfmoa.core.atomic import atomic_write_bytes
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.records import EvalItem
from selfmoa.core.rundir import read_json, read_records
from selfmoa.core.text_safety import utf8
from selfmoa.judges.registry import REGISTRY
from selfmoa.pipeline.report_record import ReportRecord
from selfmoa.pipeline.stages import agreement, report_markdown
from selfmoa.pipeline.stages.order import BASELINE_TABLE, ROUND_STAGES, ROUND_TABLE
from selfmoa.pipeline.stages.report_html import build_html
from selfmoa.pipeline.stages.report_sets import agreement_section, by_source_section
from selfmoa.pipeline.stages.spec import StageKey, StageSpec, plan_of

if TYPE_CHECKING:
    from selfmoa.pipeline.stage_context import StageContext


def _rows(path: Path) -> list[dict[str, Any]] | None:
    return read_json(path) if path.is_file() else None


def _object(path: Path) -> dict[str, Any] | None:
    """A JSON object file of a finished stage, or None when absent (an older run)."""
    value = read_json(path) if path.is_file() else None
    return value if isinstance(value, dict) else None


def _by_source_lines(by_source: dict[str, Any] | None, folder: Path) -> list[str]:
    """The per-source judge table; a by_source.json of the wrong shape (edited or damaged
    by hand) is one line naming the file and the fix, never a traceback."""
    try:
        return by_source_section(by_source)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SelfMoaError(
            f"{folder / 'by_source.json'} is damaged; delete {folder} and run again "
            "(selfmoa run recomputes the agreement stage)"
        ) from None


def _summary(folder: Path) -> dict[str, Any] | None:
    path = folder / "summary.json"
    return read_json(path) if path.is_file() else None


def run_report(ctx: StageContext) -> dict[str, Any]:
    """Build the report from the baseline and every round whose stages all finished."""
    baseline = ctx.run.baseline_stage("evaluate")
    if not (baseline / "manifest.json").is_file():
        raise SelfMoaError(f"{ctx.run.path} has no finished baseline evaluation yet")
    rounds = []
    final_items: list[EvalItem] = []
    for r in range(ctx.config.rounds):
        folders = {name: ctx.folder(name, r) for name in ROUND_STAGES}
        if not all((folder / "manifest.json").is_file() for folder in folders.values()):
            break
        entry: dict[str, Any] = {
            "round": r,
            **{
                name: read_json(folder / "manifest.json")["counts"]
                for name, folder in folders.items()
            },
        }
        retest = ctx.folder("retest", r) / "manifest.json"
        entry["retest"] = read_json(retest)["counts"] if retest.is_file() else None
        entry["evaluate"] = read_json(folders["evaluate"] / "summary.json")
        entry["capability"] = _summary(ctx.folder("capability", r))
        entry["redteam_metrics"] = read_json(folders["archive"] / "metrics.json")
        rounds.append(entry)
        final_items = read_records(folders["evaluate"] / "items.jsonl", EvalItem)
    baseline_summary = read_json(baseline / "summary.json")
    baseline_summary["capability"] = _summary(ctx.run.baseline_stage("capability"))
    baseline_items = read_records(baseline / "items.jsonl", EvalItem)
    reference = _summary(ctx.run.baseline_stage("reference")) if ctx.config.reset.enabled else None
    markdown, data = report_markdown.build_report(
        ctx.config.name,
        baseline_summary,
        rounds,
        baseline_items,
        final_items,
        ctx.config.evaluate.examples_in_report,
        tuple(
            name
            for name in ctx.config.judge.evaluation_judges
            if REGISTRY[name].measure == "unsafe"
        ),
        reference,
    )
    agreement_folder = ctx.run.run_stage("agreement")
    agreement = _rows(agreement_folder / "agreement.json")
    data["agreement"] = agreement
    by_source = _object(agreement_folder / "by_source.json")
    if by_source is not None:
        data["agreement_by_source"] = by_source
    head, examples = (markdown.split("\n## Examples", 1) + [""])[:2]
    judged = agreement_section(agreement) + _by_source_lines(by_source, agreement_folder)
    markdown = head.rstrip("\n") + "\n" + "\n".join(judged) + "\n"
    markdown += f"\n## Examples{examples}" if examples else ""
    atomic_write_bytes(ctx.stage.file("report.md"), utf8(markdown))
    ReportRecord.from_data(data).write(ctx.stage.file("report.json"))
    page = build_html(
        markdown, data, baseline_items, final_items, ctx.config.evaluate.examples_in_report
    )
    atomic_write_bytes(ctx.stage.file("report.html"), utf8(page))
    return {"rounds_reported": len(rounds)}


def _every_other_stage(config: Any, _: int | None) -> list[StageKey]:
    """The report reads every stage of the run before it."""
    return plan_of((*BASELINE_TABLE, *ROUND_TABLE, agreement.STAGE), config)


STAGE = StageSpec(
    "report",
    "run",
    frozenset(
        {
            "evaluate.examples_in_report",
            "rounds",
            "name",
            "judge.evaluation_judges",
            "reset.enabled",
        }
    ),
    _every_other_stage,
    (),
    ("report.md", "report.json", "report.html"),
    run_report,
)
