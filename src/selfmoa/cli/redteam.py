"""``selfmoa redteam``: red-team any model without training anything.

Runs round 0's redteam, sample, judge and archive stages of the loop on the given
model (and adapter), in a resumable run directory of its own, then prints attack
success and compliance (the harmful request answered rather than refused) per harm
category, strategy and phrasing form, judged by the config's evaluation judges. The
attacks with their lineage and outcomes are in the archive file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from selfmoa.core.config import load_config
from selfmoa.core.text_safety import md_text
from selfmoa.pipeline.stages.report_sets import pct

NAME = "redteam"
HELP = "red-team a model (no training); attack table"
REDTEAM_STAGES = ("redteam", "sample", "judge", "archive")
DEFAULT_CONFIG = "configs/default.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, help="model to attack: folder, hub id or embedded:NAME"
    )
    parser.add_argument("--adapter", help="a PEFT adapter folder to apply to the model")
    parser.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"config (default {DEFAULT_CONFIG})"
    )
    parser.add_argument("--name", help="run name (default: redteam-<model>)")
    parser.add_argument(
        "overrides", nargs="*", help="dotted key=value, e.g. redteam.seeds_per_round=20"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[-60:] or "model"


def _table(title: str, groups: dict[str, dict], compliance: dict[str, dict]) -> list[str]:
    lines = [
        f"| {title} | attack success [95% interval] (n) | compliance [95% interval] (n) |",
        "|---|---|---|",
    ]
    lines += [
        f"| {md_text(str(name))} | {pct(rate)} | {pct(compliance.get(name))} |"
        for name, rate in groups.items()
    ]
    return lines


def render(metrics: dict) -> str:
    """The per-category, per-strategy and per-form attack-success tables as Markdown.

    Compliance (a harmful request drew an answer the evaluation judges do not call a
    refusal) sits beside attack success: on a small model the unsafe verdict is rare
    and the refusal is what most attacks move.
    """
    parts = [
        f"attack success {pct(metrics.get('attack_success'))}, compliance "
        f"{pct(metrics.get('compliance'))} (evaluation judges)",
        "",
        *_table("harm category", metrics["by_category"], metrics.get("compliance_by_category", {})),
        "",
        *_table("strategy", metrics["by_strategy"], metrics.get("compliance_by_strategy", {})),
        "",
        *_table("phrasing form", metrics["by_form"], metrics.get("compliance_by_form", {})),
        "",
    ]
    rejected = (
        ", ".join(f"{md_text(str(k))}: {v}" for k, v in metrics["rejected"].items()) or "none"
    )
    parts.append(f"written {metrics['written']}, kept {metrics['kept']}; rejected: {rejected}")
    return "\n".join(parts)


def run(args: argparse.Namespace) -> Path:
    from selfmoa.pipeline.loop import Loop  # torch: imported only when a run starts
    from selfmoa.pipeline.stage_table import StageKey

    # flags are taken as written (a name "2024" stays a name, a path keeps its " #")
    flags = {
        "models.policy": args.model,
        "name": args.name or "redteam-" + _slug(args.model),
        "rounds": "1",
    }
    if args.adapter:
        flags["models.policy_adapter"] = args.adapter
    config = load_config(args.config, args.overrides, literal=flags)
    loop = Loop(config)
    loop.execute(only=lambda key: key.round == 0 and key.name in REDTEAM_STAGES)
    folder = loop.run.path / StageKey("archive", 0).folder
    metrics = json.loads((folder / "metrics.json").read_text())
    print("\n" + render(metrics))
    print(f"\nattacks with lineage and outcomes: {folder / 'archive.jsonl'}")
    return folder


def execute(args: argparse.Namespace) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    run(args)
