"""Report: before/after table per round with 95% intervals, and example answers.

Model outputs and red-team prompts are data: in the Markdown report they are
flattened to one line, shortened and escaped (``selfmoa.core.text_safety``), so a renderer
shows them as text and never interprets them; so are names and values read from files.
"""

from __future__ import annotations

from typing import Any

from selfmoa.core.records import EvalItem
from selfmoa.core.text_safety import md_data, md_text, md_value
from selfmoa.pipeline.stages.report_redteam import redteam_section
from selfmoa.pipeline.stages.report_sets import paired_section, pct, policy_columns, sets_section


def _delta(after: float, before: float) -> str:
    return f"{100 * (after - before):+.1f} pts"


def as_data(text: str, limit: int = 280) -> str:
    """Model text as one line of literal Markdown (also safe in a table cell)."""
    return md_data(text, limit)


def build_report(
    name: str,
    baseline: dict[str, Any],
    rounds: list[dict[str, Any]],
    baseline_items: list[EvalItem],
    final_items: list[EvalItem],
    examples: int,
    unsafe_judges: tuple[str, ...] = ("content-unsafe",),
    reference: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """(markdown, json) for a run. ``rounds`` holds per-round evaluate summaries and counts;
    ``reference`` the untouched policy's summary when a safety reset made the base model."""
    lines = [
        f"# selfmoa report: {md_text(name)}",
        "",
        "Attack success rate (ASR): share of held-out HarmBench behaviours whose answer "
        "the evaluation judges find unsafe (per answer the first of "
        f"{', '.join(map(md_text, unsafe_judges)) or 'no unsafe judge: not refused'} that could "
        "score it "
        "decides; config judge.evaluation_judges; not the keyword judge used for training). "
        "Over-refusal: share of held-out benign-but-sensitive prompts refused. Helpfulness: "
        "mean helpfulness score on the benign prompts. Intervals are Wilson 95%.",
        "",
        "| policy | ASR | over-refusal | helpfulness |",
        "|---|---|---|---|",
    ]
    if reference:
        lines[2:2] = [
            "The safety reset (stage 0) fine-tuned the policy to comply before the loop "
            "started; the reference is the policy as given, evaluated the same way, and the "
            "loop's aim is to reach its safety from the reset model.",
            "",
        ]
    columns = policy_columns(baseline, rounds, reference)
    for label, summary in columns:
        lines.append(
            f"| {label} | {pct(summary['attack_success'])} | "
            f"{pct(summary['over_refusal'])} | {md_value(summary['helpfulness']['mean'])} |"
        )
    lines += _by_judge(columns)
    result: dict[str, Any] = {
        "name": name,
        "baseline": baseline,
        "reference": reference,
        "rounds": rounds,
    }
    if rounds:
        final = rounds[-1]["evaluate"]
        change = {
            "attack_success_points": round(
                100 * (final["attack_success"]["rate"] - baseline["attack_success"]["rate"]), 2
            ),
            "over_refusal_points": round(
                100 * (final["over_refusal"]["rate"] - baseline["over_refusal"]["rate"]), 2
            ),
        }
        result["change"] = change
        lines += [
            "",
            f"Change after {len(rounds)} round(s): ASR "
            f"{_delta(final['attack_success']['rate'], baseline['attack_success']['rate'])}"
            f", over-refusal "
            f"{_delta(final['over_refusal']['rate'], baseline['over_refusal']['rate'])}.",
        ]
        if reference:
            result["change_from_reference"] = {
                key: round(100 * (final[name]["rate"] - reference[name]["rate"]), 2)
                for key, name in (
                    ("attack_success_points", "attack_success"),
                    ("over_refusal_points", "over_refusal"),
                )
            }
            lines.append(
                "Against the reference (untouched policy): ASR "
                f"{_delta(final['attack_success']['rate'], reference['attack_success']['rate'])}"
                ", over-refusal "
                f"{_delta(final['over_refusal']['rate'], reference['over_refusal']['rate'])}."
            )
    lines += [
        "",
        "## Rounds",
        "",
        "| round | elites re-tested (still unsafe) | attacks kept / written | benign prompts "
        "| responses | pairs per objective | train steps | loss, last epoch mean "
        "| reward accuracy, last epoch mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in rounds:
        red, pairs, train = entry["redteam"], entry["pairs"], entry["train"]
        retest = entry.get("retest")
        retested = (
            f"{md_value(retest['retested'])} ({md_value(retest['still_unsafe'])})"
            if retest
            else "-"
        )
        lines.append(
            f"| {md_value(entry['round'])} | {retested} | {md_value(red['harmful_kept'])} / "
            f"{md_value(red['harmful_written'])} | {md_value(red['benign'])} | "
            f"{md_value(entry['sample']['responses'])} | "
            f"{_pairs_cell(pairs)} | {md_value(train.get('steps', 0))} | "
            f"{_epoch_mean(train, 'loss'):.3f} | {_epoch_mean(train, 'reward_accuracy'):.2f} |"
        )
    lines += sets_section(baseline, rounds, reference)
    lines += redteam_section(rounds)
    paired_lines, paired = paired_section(baseline_items, final_items)
    lines += paired_lines
    result["paired_change"] = paired
    lines += _capability(baseline.get("capability"), rounds)
    lines += _examples(baseline_items, final_items, examples)
    return "\n".join(lines) + "\n", result


def _epoch_mean(train: dict[str, Any], statistic: str) -> float:
    """Last-epoch mean of a training statistic; the last step's value for older runs."""
    return train.get(f"last_epoch_{statistic}", train.get(statistic, float("nan")))


def _pairs_cell(counts: dict[str, Any]) -> str:
    """Pairs per objective from the pairs manifest: "safety 80, helpfulness 89"."""
    names = sorted(set(counts) - {"pairs", "left_out_for_judge_errors"})
    first = [name for name in ("safety", "helpfulness") if name in names]
    ordered = first + [name for name in names if name not in first]
    return ", ".join(f"{md_text(name)} {md_value(counts[name])}" for name in ordered)


def _accuracy_cell(row: dict[str, Any]) -> str:
    low, high = row.get("acc_norm_ci", [None, None])
    interval = f" [{low:.2f}-{high:.2f}]" if low is not None else ""
    return f"{row['acc']:.3f} / {row['acc_norm']:.3f}{interval}"


def _capability(baseline: dict[str, Any] | None, rounds: list[dict[str, Any]]) -> list[str]:
    """Capability accuracy (acc_norm) per benchmark and drift, before and after each round."""
    columns = [("base model", baseline)] + [
        (f"after round {entry['round']}", entry.get("capability")) for entry in rounds
    ]
    if baseline is None or not baseline["accuracy"]:
        return []
    lines = [
        "",
        "## Capability and drift",
        "",
        "Multiple-choice accuracy by option log-likelihood (acc / length-normalised acc_norm "
        "[Wilson 95% interval of acc_norm]) on "
        "fixed subsamples; per-token KL from the base model and the base model's perplexity "
        "of the policy's answers to the held-out benign prompts.",
        "",
        "| benchmark (n) | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for bench, first in baseline["accuracy"].items():
        cells = [_accuracy_cell(s["accuracy"][bench]) if s and bench in s["accuracy"] else "-"
                 for _, s in columns]  # fmt: skip
        lines.append(f"| {md_text(bench)} ({md_value(first['n'])}) | " + " | ".join(cells) + " |")
    for key, label in (("kl_per_token", "KL per token"), ("base_perplexity", "base perplexity")):
        cells = [md_value(s["drift"][key]) if s else "-" for _, s in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _by_judge(columns: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """ASR by each safety judge alone, side by side (training judge vs evaluation judges)."""
    judges = sorted({j for _, s in columns for j in s.get("attack_success_by_judge", {})})
    if not judges:
        return []
    lines = [
        "",
        "ASR by each safety judge alone (refusal-keywords is the training judge):",
        "",
        "| judge | " + " | ".join(label for label, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for judge in judges:
        cells = [
            pct(s["attack_success_by_judge"][judge])
            if judge in s.get("attack_success_by_judge", {})
            else "-"
            for _, s in columns
        ]
        lines.append(f"| {md_text(judge)} | " + " | ".join(cells) + " |")
    return lines


def _examples(before: list[EvalItem], after: list[EvalItem], count: int) -> list[str]:
    if count == 0 or not after:
        return []
    after_by_id = {item.id: item for item in after}
    lines = ["", "## Examples (held-out prompts; model text shown as escaped data)"]
    for eval_set in ("harmbench", "benign_heldout"):
        shown = [b for b in before if b.eval_set == eval_set and b.id in after_by_id][:count]
        lines += ["", f"### {md_text(eval_set)}"]
        for item in shown:
            new = after_by_id[item.id]
            lines += [
                "",
                f"- **prompt:** {as_data(item.prompt_text)}",
                f"  - before ({'refused' if item.refused else 'answered'}): "
                f"{as_data(item.response)}",
                f"  - after ({'refused' if new.refused else 'answered'}): {as_data(new.response)}",
            ]
    return lines
