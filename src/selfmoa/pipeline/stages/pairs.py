"""Preference pairs from judged responses.

Per response: refused (refusal judge), prompt harmful (lineage judge),
helpfulness (relevance judge), and safety = 0 when a harmful prompt was
answered without refusing, else 1. A response with any judge error is left out.

- Harmful prompt (objective ``safety``): a safe answer beats an unsafe one; the
  most on-topic safe answers and the most compliant unsafe ones are paired first.
- Benign prompt (objective ``helpfulness``): a helpful non-refusal (at least
  ``min_chosen_helpfulness``) beats a refusal.
- Extra objectives (``pairs.extra_objectives``), each tied to a judge measure: on the
  prompts of its label, the i-th best answer by that measure beats the i-th worst when
  their scores differ by at least its ``min_margin``.
Each pair carries the chosen-minus-rejected margin of every objective and the rule
that made it. The rules are config (``pairs``): the selection ('ranked' or
'all_above_margin'), the thresholds that make an answer a refusal and a prompt harmful,
the cap per prompt and the harmful/benign balance.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from selfmoa.core.config import ExtraObjective, PairsConfig
from selfmoa.core.records import Judgement, PreferencePair, Prompt, Response
from selfmoa.core.rundir import write_records
from selfmoa.pipeline.stage_context import StageContext
from selfmoa.pipeline.stages.spec import StageSpec, in_round


@dataclass(frozen=True)
class ScoredResponse:
    response: Response
    refused: bool
    prompt_harmful: bool
    helpfulness: float
    extra: dict[str, float] = field(default_factory=dict)  # extra objective -> score

    @property
    def safety(self) -> float:
        return 0.0 if self.prompt_harmful and not self.refused else 1.0

    def score(self, objective: str) -> float | None:
        """The response's score on an objective; None for an extra one it lacks."""
        if objective == "safety":
            return self.safety
        return self.helpfulness if objective == "helpfulness" else self.extra.get(objective)


def score_responses(
    responses: list[Response],
    judgements: list[Judgement],
    config: PairsConfig,
    extra_objectives: list[ExtraObjective] | tuple[()] = (),
) -> tuple[list[ScoredResponse], int]:
    """Scored responses, and how many were left out for judge errors or missing judges.

    ``config``'s thresholds decide refusal and harm, for the pairs and the archive alike.
    Each extra objective scores a response by its measure (or 1 - it when lower is better).
    """
    by_response: dict[str, dict[str, Judgement]] = defaultdict(dict)
    for judgement in judgements:
        by_response[judgement.response_id][judgement.measure] = judgement
    scored, left_out = [], 0
    for response in responses:
        measures = by_response.get(response.id, {})
        needed = [measures.get(name) for name in ("refusal", "prompt_harmful", "helpfulness")]
        if any(j is None or j.score is None for j in needed):
            left_out += 1
            continue
        refusal, harmful, helpfulness = (j.score for j in needed)  # type: ignore[union-attr]
        # An extra measure a judge could not give only keeps the response out of that
        # objective's pairs (its margin elsewhere counts as 0).
        extra = {}
        for objective in extra_objectives:
            judgement = measures.get(objective.measure)
            if judgement is not None and judgement.score is not None:
                value = judgement.score
                extra[objective.name] = value if objective.higher_is_better else 1.0 - value
        scored.append(
            ScoredResponse(
                response,
                refusal >= config.refusal_threshold,
                harmful >= config.harmful_threshold,
                helpfulness,
                extra,
            )
        )
    return scored, left_out


def _matches(
    chosen: list[ScoredResponse], rejected: list[ScoredResponse], config: PairsConfig
) -> list[tuple[ScoredResponse, ScoredResponse]]:
    """(winner, loser) pairs of one prompt by ``config.selection``, at most the cap."""
    cap = config.max_pairs_per_prompt
    if not chosen or not rejected:
        return []
    if config.selection == "ranked":
        count = min(cap, len(rejected))
        return [(chosen[i % len(chosen)], rejected[i]) for i in range(count)]
    combos = [
        (win, lose)
        for win in chosen
        for lose in rejected
        if win.helpfulness - lose.helpfulness >= config.min_margin
    ]
    combos.sort(
        key=lambda c: (-(c[0].helpfulness - c[1].helpfulness), c[0].response.id, c[1].response.id)
    )
    return combos[:cap]


def _balanced(pairs: list[PreferencePair], config: PairsConfig) -> list[PreferencePair]:
    """Helpfulness pairs capped at ``max_benign_per_harmful`` per safety pair (seeded)."""
    if config.max_benign_per_harmful is None:
        return pairs
    safety = [p for p in pairs if p.objective == "safety"]
    helpful = [p for p in pairs if p.objective == "helpfulness"]
    cap = int(config.max_benign_per_harmful * len(safety))
    if len(helpful) <= cap:
        return pairs
    kept = sorted(helpful, key=lambda p: hashlib.sha256(p.id.encode()).hexdigest())[:cap]
    return [p for p in pairs if p.objective != "helpfulness"] + kept


def _extra_matches(
    candidates: list[ScoredResponse], objective: ExtraObjective, cap: int
) -> list[tuple[ScoredResponse, ScoredResponse]]:
    """i-th best against i-th worst by the objective's score, while they differ enough."""
    scored = [c for c in candidates if objective.name in c.extra]
    ranked = sorted(scored, key=lambda c: (-c.extra[objective.name], c.response.id))
    matches = []
    for i in range(min(cap, len(ranked) // 2)):
        win, lose = ranked[i], ranked[-1 - i]
        if win.extra[objective.name] - lose.extra[objective.name] < objective.min_margin:
            break
        matches.append((win, lose))
    return matches


def _pair(
    prompt: Prompt,
    objective: str,
    win: ScoredResponse,
    lose: ScoredResponse,
    config: PairsConfig,
    rule: str,
) -> PreferencePair:
    # Built-in objectives keep their historical ids; extra ones name the objective, since
    # the same two answers may also make a safety or helpfulness pair.
    tag = "" if objective in ("safety", "helpfulness") else f"{objective}:"
    return PreferencePair(
        id=f"{prompt.id}:{tag}{win.response.id}>{lose.response.id}",
        prompt_id=prompt.id,
        prompt_text=prompt.text,
        objective=objective,
        chosen_response_id=win.response.id,
        chosen_text=win.response.text,
        rejected_response_id=lose.response.id,
        rejected_text=lose.response.text,
        margins={name: _margin(win, lose, name) for name in config.objective_names()},
        rule=rule,
    )


def _margin(win: ScoredResponse, lose: ScoredResponse, objective: str) -> float:
    high, low = win.score(objective), lose.score(objective)
    return 0.0 if high is None or low is None else round(high - low, 4)


def build_pairs(
    prompts: dict[str, Prompt], scored: list[ScoredResponse], config: PairsConfig
) -> list[PreferencePair]:
    by_prompt: dict[str, list[ScoredResponse]] = defaultdict(list)
    for item in scored:
        by_prompt[item.response.prompt_id].append(item)
    pairs = []
    for prompt_id, candidates in by_prompt.items():
        prompt = prompts[prompt_id]
        by_help = sorted(candidates, key=lambda c: (-c.helpfulness, c.response.id))
        if prompt.label == "harmful":
            objective = "safety"
            chosen = [c for c in by_help if c.safety == 1.0]
            rejected = [c for c in by_help if c.safety == 0.0]
        else:
            objective = "helpfulness"
            chosen = [
                c
                for c in by_help
                if not c.refused and c.helpfulness >= config.min_chosen_helpfulness
            ]
            rejected = [c for c in by_help if c.refused]
        for win, lose in _matches(chosen, rejected, config):
            pairs.append(
                _pair(prompt, objective, win, lose, config, f"{objective}:{config.selection}")
            )
        for extra in config.extra_objectives:
            if extra.prompts in ("all", prompt.label):
                for win, lose in _extra_matches(candidates, extra, config.max_pairs_per_prompt):
                    pairs.append(
                        _pair(prompt, extra.name, win, lose, config, f"{extra.name}:ranked")
                    )
    return sorted(_balanced(pairs, config), key=lambda pair: pair.id)


def run_pairs(ctx: StageContext) -> dict[str, Any]:
    r = ctx.round
    assert r is not None
    prompts = {p.id: p for p in ctx.prompts(r)}
    config = ctx.config.pairs
    scored, left_out = score_responses(
        ctx.responses(r), ctx.judgements(r), config, config.extra_objectives
    )
    built = build_pairs(prompts, scored, config)
    write_records(ctx.stage.file("pairs.jsonl"), built)
    return {
        "pairs": len(built),
        **{name: sum(p.objective == name for p in built) for name in config.objective_names()},
        "left_out_for_judge_errors": left_out,
    }


STAGE = StageSpec(
    "pairs",
    "round",
    frozenset({"pairs"}),
    lambda c, r: in_round("redteam", r) + in_round("sample", r) + in_round("judge", r),
    (),
    ("pairs.jsonl",),
    run_pairs,
)
