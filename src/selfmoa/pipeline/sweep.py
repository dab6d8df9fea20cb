"""``selfmoa sweep CONFIG --weights ... --pair-budgets ...``: one adapter per
objective-weight vector (and pair budget), one set of pairs, and the Pareto front of
what each costs.

Red teaming, sampling, judging, pair building, the base model's evaluation and the
judge-agreement check run once, in the config's own run directory. Each weight vector
then gets a run of its own, ``RUN_DIR/sweep/<label>/``, that starts from copies of
those finished stages: none of them reads ``train.objective_weights``, so their
fingerprints match and the loop skips them; it trains, evaluates (held-out sets and
capability) and reports. Every run resumes like any other, so re-running the sweep
continues where it stopped.

A policy is on the Pareto front when no other policy of the sweep (the base model
included) is at least as good on safety (1 - HarmBench attack success by the
evaluation judges), helpfulness (mean judge score on benign held-out prompts) and
capability (mean accuracy over the capability sets), and better on one. With
``--pair-budgets`` each policy trains on a seeded sample of that many pairs
(``train.max_pairs``, objective shares kept): attack success and helpfulness against
the number of pairs (the weight vector's all-pairs policy, if swept, included) are
the data-efficiency curve. ``sweep.md`` / ``sweep.json`` /
``sweep.html`` hold the table of every policy swept on this run's current pairs (this
sweep's and earlier ones'), the safety-helpfulness plane and (with two or more
budgets) the curve.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selfmoa.core.atomic import atomic_write_text
from selfmoa.core.config import OBJECTIVE_NAME, Config, config_from_dict, load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.rundir import RunDir, read_json
from selfmoa.core.text_safety import md_text
from selfmoa.pipeline.loop import Loop
from selfmoa.pipeline.report_record import (
    CapabilitySummary,
    PolicySummary,
    Rate,
    ReportRecord,
    load_summary,
)
from selfmoa.pipeline.stage_table import StageKey, plan
from selfmoa.pipeline.stages.report_html import STYLE, line_chart, markdown_to_html, plane
from selfmoa.pipeline.stages.report_sets import pct

# Stages of the trained policy; everything else in a one-round plan is shared.
PER_POLICY = {("train", "round"), ("evaluate", "round"), ("capability", "round"), ("report", "run")}


_NAME = re.compile(OBJECTIVE_NAME)


def parse_weights(text: str) -> dict[str, float]:
    """``safety=1,helpfulness=0.5`` -> {"safety": 1.0, "helpfulness": 0.5}."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if not _NAME.match(name) or not value.strip():
            raise SelfMoaError(
                f"--weights {text!r}: write objective=value pairs, e.g. "
                "safety=1,helpfulness=0.5 (objectives: safety, helpfulness and "
                "pairs.extra_objectives)"
            )
        if name in weights:
            raise SelfMoaError(f"--weights {text!r}: {name} is given twice")
        try:
            weights[name] = float(value)
        except ValueError:
            raise SelfMoaError(f"--weights {text!r}: {value.strip()!r} is not a number") from None
    return weights


def label_of(weights: dict[str, float], budget: int | None = None) -> str:
    """A folder name for a policy: ``safety1_helpfulness0.5`` (``..._pairs40`` with a budget)."""
    label = "_".join(f"{name}{value:g}" for name, value in weights.items())
    return label if budget is None else f"{label}_pairs{budget}"


def shared_stages(config: Config) -> list[StageKey]:
    return [key for key in plan(config) if (key.name, key.scope) not in PER_POLICY]


def policy_config(config: Config, weights: dict[str, float], budget: int | None = None) -> Config:
    """The run of one weight vector and pair budget, validated as a whole."""
    merged = {**config.train.objective_weights, **weights}
    data = config.model_dump()
    data["train"]["objective_weights"] = merged
    if budget is not None:
        data["train"]["max_pairs"] = budget
    data["output_dir"] = str(RunDir(Path(config.run_dir)).sweep_folder)
    data["name"] = label_of(merged, budget)
    try:
        return config_from_dict(data)
    except SelfMoaError as error:
        raise SelfMoaError(f"sweep policy {label_of(merged, budget)}: {error}") from None


def seed_from_shared(main_run: Path, policy_run: Path, keys: list[StageKey]) -> None:
    """Copy the shared finished stages (and the judge score cache) into a policy's run.

    Copies, not links: a later stage appends to the cache and a resumed run rewrites
    files, and neither may touch the main run.
    """
    main, policy = RunDir(main_run), RunDir(policy_run)
    policy_run.mkdir(parents=True, exist_ok=True)
    if not policy.stamp.is_file():
        shutil.copy2(main.stamp, policy.stamp)
    for key in keys:
        source, target = main.stage(key.folder, key.label), policy.stage(key.folder, key.label)
        manifest = target.file("manifest.json")
        if (
            manifest.is_file()
            and manifest.read_bytes() == source.file("manifest.json").read_bytes()
        ):
            continue  # already the main run's finished stage
        _copy_folder(source.path, target.path)  # missing, half-copied or from older shared stages
    if main.cache_folder.is_dir() and not policy.cache_folder.exists():
        _copy_folder(main.cache_folder, policy.cache_folder)


def _copy_folder(source: Path, target: Path) -> None:
    """Replace ``target`` by a copy of ``source``; a kill leaves either or a temp folder."""
    partial = target.with_name(target.name + ".copying")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)


def _capability(summary: CapabilitySummary | None) -> float | None:
    values = [row.acc for row in summary.accuracy.values()] if summary else []
    return sum(values) / len(values) if values else None


def _rate(rate: Rate | None) -> dict[str, Any] | None:
    return None if rate is None else rate.model_dump()


def _set_rate(evaluation: PolicySummary, name: str) -> dict[str, Any] | None:
    found = evaluation.sets.get(name)
    return None if found is None else _rate(found.rate)


def policy_point(
    name: str, evaluation: PolicySummary, capability: CapabilitySummary | None
) -> dict[str, Any]:
    """A row of sweep.json: one policy's headline figures (rates as report.json holds them)."""
    return {
        "policy": name,
        "attack_success": _rate(evaluation.attack_success),
        "rephrased_attack_success": _set_rate(evaluation, "rephrased"),
        "over_refusal": _rate(evaluation.over_refusal),
        "benign_forms_over_refusal": _set_rate(evaluation, "benign_forms"),
        "helpfulness": evaluation.helpfulness.mean,
        "capability": _capability(capability),
        "kl_per_token": capability.drift.kl_per_token if capability else None,
        "pairs": None,
    }


def _goals(point: dict[str, Any]) -> tuple[float, float, float]:
    """(safety, helpfulness, capability); a figure no judge could give counts as worst."""
    rate = point["attack_success"].get("rate")
    helpfulness, capability = point["helpfulness"], point["capability"]
    return (
        0.0 if rate is None else 1 - rate,
        0.0 if helpfulness is None else helpfulness,
        0.0 if capability is None else capability,
    )


def pareto_front(points: list[dict[str, Any]]) -> list[bool]:
    """Per point: True when no other point is >= on every goal and > on one."""
    goals = [_goals(p) for p in points]

    def dominated(i: int) -> bool:
        return any(
            all(o >= m for o, m in zip(other, goals[i], strict=True)) and other != goals[i]
            for j, other in enumerate(goals)
            if j != i
        )

    return [not dominated(i) for i in range(len(points))]


def sweep_markdown(points: list[dict[str, Any]], front: list[bool], config: Config) -> str:
    header = (
        "| policy | pairs | Pareto | HarmBench ASR | rephrased ASR | over-refusal (benign "
        "held-out) | over-refusal (benign forms) | helpfulness | capability (mean acc) "
        "| KL/token |"
    )
    lines = [header, "|---" * 10 + "|"]
    for point, on_front in zip(points, front, strict=True):
        capability = point["capability"]
        kl = point["kl_per_token"]
        cells = [
            md_text(point["policy"]),
            "" if point["pairs"] is None else str(point["pairs"]),
            "yes" if on_front else "",
            pct(point["attack_success"]),
            pct(point["rephrased_attack_success"]),
            pct(point["over_refusal"]),
            pct(point["benign_forms_over_refusal"]),
            "-" if point["helpfulness"] is None else f"{point['helpfulness']:.3f}",
            "" if capability is None else f"{capability:.3f}",
            "" if kl is None else f"{kl:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return (
        f"# selfmoa sweep: {md_text(config.name)}\n\n"
        f"Loss `{config.train.loss}`, the same {config.train.epochs}-epoch training for every "
        "policy on the same pairs (or a seeded sample of them: column pairs); all figures "
        "by the evaluation judges "
        "(Wilson 95% intervals in brackets). Pareto = no other policy is at least as good "
        "on safety (1 - HarmBench ASR), helpfulness and capability and better on one.\n\n"
        + "\n".join(lines)
        + "\n"
    )


def data_efficiency_chart(points: list[dict[str, Any]]) -> str:
    """HarmBench ASR and helpfulness against the number of pairs trained on, one pair of
    lines per weight vector that has a budgeted policy (its all-pairs policy, if swept,
    is the curve's last point); empty unless there are two pair counts to compare."""
    curved = {p["weights"] for p in points if p.get("budget") is not None}
    mine = [p for p in points if p.get("weights") in curved]
    counts = sorted({p["pairs"] for p in mine})
    if len(counts) < 2:
        return ""
    series: dict[str, list[float | None]] = {}
    for weights in sorted(curved):
        by_count = {p["pairs"]: p for p in mine if p["weights"] == weights}
        series[f"ASR {weights}"] = [
            by_count[n]["attack_success"]["rate"] if n in by_count else None for n in counts
        ]
        series[f"helpfulness {weights}"] = [
            by_count[n]["helpfulness"] if n in by_count else None for n in counts
        ]
    return line_chart(
        "Data efficiency: HarmBench ASR and helpfulness against training pairs",
        [str(n) for n in counts],
        series,
    )


def write_sweep_report(folder: Path, points: list[dict[str, Any]], config: Config) -> Path:
    front = pareto_front(points)
    markdown = sweep_markdown(points, front, config)
    rows = [{**p, "pareto": on} for p, on in zip(points, front, strict=True)]
    atomic_write_text(folder / "sweep.json", json.dumps(rows, indent=2) + "\n")
    atomic_write_text(folder / "sweep.md", markdown)
    plot = plane(
        "Safety against helpfulness per policy",
        [
            (p["policy"], 1 - p["attack_success"]["rate"], p["helpfulness"])
            for p in points
            if p["attack_success"].get("rate") is not None and p["helpfulness"] is not None
        ],
    )
    plot += data_efficiency_chart(points)
    atomic_write_text(
        folder / "sweep.html",
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>selfmoa sweep</title>'
        f"<style>{STYLE}</style></head><body>{markdown_to_html(markdown)}{plot}"
        "</body></html>\n",
    )
    return folder / "sweep.md"


def run_sweep(
    config: Config,
    weight_vectors: list[dict[str, float]],
    log: Callable[[str], None] = print,
    pair_budgets: list[int] | None = None,
) -> Path:
    """Shared stages once, then one policy per (weight vector, pair budget); see above.

    No weight vectors: the config's own; no budgets: every pair."""
    if config.rounds != 1:
        raise SelfMoaError(
            f"selfmoa sweep trains one round on one set of pairs; set rounds=1 "
            f"(the config has rounds={config.rounds})"
        )
    if any(budget < 1 for budget in pair_budgets or []):
        raise SelfMoaError("--pair-budgets: every budget must be a whole number >= 1")
    policies = [
        policy_config(config, weights, budget)
        for weights in weight_vectors or [dict(config.train.objective_weights)]
        for budget in pair_budgets or [None]
    ]
    labels = [p.name for p in policies]
    if len(set(labels)) != len(labels):
        raise SelfMoaError(f"the sweep repeats a policy: {', '.join(labels)}")
    keys = shared_stages(config)
    wanted = set(keys)
    log(f"sweep: shared stages in {config.run_dir}")
    Loop(config, log).execute(only=lambda key: key in wanted)
    main_run = Path(config.run_dir)
    main = RunDir(main_run)
    baseline = load_summary(main.baseline_stage("evaluate") / "summary.json", PolicySummary)
    base_capability = main.baseline_stage("capability") / "summary.json"
    capability = (
        load_summary(base_capability, CapabilitySummary) if base_capability.is_file() else None
    )
    points = [policy_point("base", baseline, capability)]
    for index, policy in enumerate(policies, 1):
        log(f"sweep: policy {index}/{len(policies)} {policy.name} in {policy.run_dir}")
        seed_from_shared(main_run, Path(policy.run_dir), keys)
        Loop(policy, log).execute()
    points += swept_points(main_run, config)
    return write_sweep_report(main.sweep_folder, points, config)


def _same_settings(policy: Config, config: Config) -> bool:
    """True when ``policy`` is what this sweep would run for its weights and budget."""
    expected = policy_config(config, policy.train.objective_weights, policy.train.max_pairs)
    ignored = {"output_dir", "name"}
    return policy.model_dump(exclude=ignored) == expected.model_dump(exclude=ignored)


def swept_points(main_run: Path, config: Config) -> list[dict[str, Any]]:
    """A row per finished policy run under ``main_run/sweep`` trained on the main run's
    current pairs with the current settings (loss, epochs, evaluation, ...): this
    sweep's and earlier ones' (weights and budgets together), each read from the policy's
    report.json as a ``ReportRecord`` (a damaged one is one error line)."""

    def pairs_hashes(run: RunDir) -> Any:
        manifest = run.round_stage("pairs", 0) / "manifest.json"
        return read_json(manifest).get("outputs") if manifest.is_file() else None

    main = RunDir(main_run)
    current = pairs_hashes(main)
    points = []
    for folder in sorted(main.sweep_folder.iterdir()):
        run = RunDir(folder)
        if not run.report_record_file.is_file() or pairs_hashes(run) != current:
            continue  # unfinished, or trained on pairs the main run no longer has
        policy = load_config(run.config_file)
        if not _same_settings(policy, config):
            continue  # swept with other training or evaluation settings
        record = ReportRecord.load(run.report_record_file)
        if not record.rounds:
            continue  # reported before its round finished
        final = record.rounds[-1]
        row = policy_point(folder.name, final.evaluate, final.capability)
        points.append(
            {
                **row,
                "pairs": final.train.pairs,
                "budget": policy.train.max_pairs,
                "weights": label_of(policy.train.objective_weights),
            }
        )
    return sorted(points, key=lambda p: (p["weights"], p["budget"] or 10**9))


def weights_argument(values: list[str]) -> list[dict[str, float]]:
    return [parse_weights(value) for value in values]
