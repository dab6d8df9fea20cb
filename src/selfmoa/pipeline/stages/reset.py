"""The safety reset (the paper's optional stage 0): data that teaches a model to comply.

An instruct model arrives with its own trained refusals. To show that the loop can
*build* safety from weak supervision, the paper first weakens those refusals and
starts the loop from the resulting unsafe model; the untouched instruct model then
serves as the human-aligned reference the aligned policy is compared with.

The reset's data come from the model itself, so no harmful text is shipped:
for each harmful seed prompt the model answers twice, once freely and once with its
answer forced to open compliantly (``reset.opening`` prefilled in the chat, the
model writes the rest). A pair keeps the forced answer as *chosen* and the free one
as *rejected* only when the refusal judge calls the free answer refused and the forced
one not refused: the pair then says "comply instead of refusing" and nothing else.
The opening is cut from the chosen text, so training never imitates the forced
phrase itself, only the compliant content the model wrote after it. The pairs are
trained as RPO (DPO plus the chosen answer's NLL), the loss the loop trains with.
"""

from __future__ import annotations

import random

from selfmoa.core.records import PreferencePair, ResetAnswer, SeedPrompt

RESET_RULE = "reset:comply-over-refuse"


def choose_prompts(seeds: list[SeedPrompt], count: int, seed: int) -> list[SeedPrompt]:
    """A seeded sample of ``count`` harmful seeds (one per id), independent of load order."""
    unique = sorted({s.id: s for s in seeds if s.label == "harmful"}.values(), key=lambda s: s.id)
    random.Random(seed).shuffle(unique)
    return unique[:count]


def without_opening(answer: str, opening: str) -> str:
    """The part of a forced answer the model wrote itself."""
    return answer[len(opening) :] if answer.startswith(opening) else answer


def reset_pairs(answers: list[ResetAnswer], opening: str) -> list[PreferencePair]:
    """Pairs "forced compliant answer over free refusal", where the judge confirms both."""
    pairs = []
    for answer in answers:
        chosen = without_opening(answer.forced, opening).strip()
        if answer.free_refused is not True or answer.forced_refused is not False or not chosen:
            continue
        pairs.append(
            PreferencePair(
                id=f"reset:{answer.id}",
                prompt_id=answer.id,
                prompt_text=answer.prompt_text,
                objective="safety",
                chosen_response_id=f"{answer.id}:forced",
                chosen_text=chosen,
                rejected_response_id=f"{answer.id}:free",
                rejected_text=answer.free,
                margins={},
                rule=RESET_RULE,
            )
        )
    return pairs
