"""Report section: each round's red team, judged by the evaluation judges.

Attack success of the round's new attacks against the policy that answered them,
by origin (fresh seed, jailbreak template, progressive mutation of an archived
success), strategy, phrasing form and harm category; compliance (harmful requests
answered rather than refused) by the same groups; over-refusal of the round's
fresh benign prompts by form; diversity, intent preservation and filter rejections.
Group names and values are escaped with ``selfmoa.core.text_safety`` (they may come from
generated attacks).
"""

from __future__ import annotations

from typing import Any

from selfmoa.core.text_safety import md_text, md_value
from selfmoa.pipeline.stages.report_sets import pct


def _group_table(title: str, key: str, rounds: list[dict[str, Any]]) -> list[str]:
    names = sorted({name for e in rounds for name in e["redteam_metrics"].get(key, {})})
    if not names:
        return []
    lines = [
        "",
        f"| {title} | " + " | ".join(f"round {e['round']}" for e in rounds) + " |",
        "|---|" + "---|" * len(rounds),
    ]
    for name in names:
        cells = [pct(e["redteam_metrics"].get(key, {}).get(name)) for e in rounds]
        lines.append(f"| {md_text(name)} | " + " | ".join(cells) + " |")
    return lines


GROUP_TITLES = {
    "origin": "origin",
    "mutation": "progressive, by mutation",
    "strategy": "strategy",
    "form": "phrasing form",
    "category": "harm category",
}


def _group_tables(prefix: str, suffix: str, rounds: list[dict[str, Any]]) -> list[str]:
    """One table per grouping of the archive's metrics (``{prefix}by_{group}``)."""
    lines: list[str] = []
    for group, title in GROUP_TITLES.items():
        lines += _group_table(f"{title}{suffix}", f"{prefix}by_{group}", rounds)
    return lines


def redteam_section(rounds: list[dict[str, Any]]) -> list[str]:
    rounds = [entry for entry in rounds if entry.get("redteam_metrics")]
    if not rounds:
        return []
    lines = [
        "",
        "## Red team per round",
        "",
        "Attack success of each round's new attacks against the policy that answered them "
        "(round 0: the base model; round r: the adapter after round r-1), by the evaluation "
        "judges; an attack succeeds when any of its samples is judged unsafe. `progressive` "
        "attacks mutate archived attacks re-tested on the policy first and fittest against it "
        "(the rounds table counts those re-tested and still unsafe); `fresh` ones start from "
        "new seeds. Progressive attacks by how they were made: `reseed` carries a still-"
        "successful elite's framing to an unseen intent; `stack`, `form`, `strategy` and "
        "`rewrite` mutate a parent.",
    ]
    lines += _group_tables("", "", rounds)
    if _group_table("origin", "compliance_by_origin", rounds):  # absent from older runs
        lines += [
            "",
            "Compliance: the share of the round's harmful requests that drew an answer the "
            "evaluation judges do not call a refusal (best of k). A small model's answers "
            "rarely give real uplift, so attack success can sit near 0 in every group while "
            "some attacks still get past the refusal; this shows which.",
        ]
        lines += _group_tables("compliance_", " (compliance)", rounds)
    lines += ["", "Over-refusal of the round's fresh benign training prompts, by form:"]
    lines += _group_table("benign form", "benign_over_refusal_by_form", rounds)
    lines += [
        "",
        "| round | kept / written | rejected by filter | mean pairwise distance | "
        "distinct-2 | mean similarity to seed |",
        "|---|---|---|---|---|---|",
    ]
    for entry in rounds:
        m = entry["redteam_metrics"]
        rejected = (
            ", ".join(f"{md_text(k)}: {md_value(v)}" for k, v in m["rejected"].items()) or "none"
        )
        diversity, intent = m["diversity"], m["intent_preservation"]
        lines.append(
            f"| {entry['round']} | {md_value(m['kept'])} / {md_value(m['written'])} | "
            f"{rejected} | {md_value(diversity['mean_pairwise_distance'])} | "
            f"{md_value(diversity['distinct_2'])} | "
            f"{md_value(intent['mean_seed_similarity'])} |"
        )
    return lines
