"""Attack strategies as plugins: how a (rephrased) harmful request is turned into an attack.

Three kinds, so that a weak attacker model still yields diverse attacks:

- ``rule``: a deterministic transformation in code (``rules.py``). No model needed.
- ``attacker``: the attacker model rewrites the request (paraphrase, role-play,
  hypothetical, persuasion); its answer is forced to open in the strategy's style
  (``attacker.py``).
- ``template``: a PyRIT jailbreak template filled with the request (``template.py``).

A strategy is declared in the module that defines it (``registry.py``); adding one is
one function with ``@rule_strategy`` in a module of this package (docs/extending.md).
``STRATEGIES`` holds them all; ``tests/test_plugin_contract_strategies.py`` runs a
contract test over every one. The evaluation's ``attacked`` set wraps held-out
behaviours with the same rule strategies, so attack success per strategy compares.
"""

from __future__ import annotations

from selfmoa.attacks.strategies.registry import (
    Strategy,
    StrategyKind,
    discover_strategies,
    register_strategy,
    rule_strategy,
)
from selfmoa.attacks.strategies.rules import many_shot_examples

STRATEGIES: dict[str, Strategy] = discover_strategies()

# Rule strategies the evaluation's ``attacked`` set applies to held-out behaviours.
EVALUATION_WRAPPERS: tuple[str, ...] = (
    "prefix_injection",
    "refusal_suppression",
    "fiction_framing",
    "persona",
)


def strategy(name: str) -> Strategy:
    """The strategy called ``name``; a ValueError naming the known ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown red-team strategy {name!r}; known: {', '.join(STRATEGIES)}"
        ) from None


def apply_rule(name: str, text: str, key: str) -> str:
    """The attack text of rule strategy ``name`` on ``text``."""
    spec = strategy(name)
    if spec.wrap is None:
        raise ValueError(f"strategy {name!r} is not a rule strategy")
    return spec.wrap(text, key)


__all__ = [
    "EVALUATION_WRAPPERS",
    "STRATEGIES",
    "Strategy",
    "StrategyKind",
    "apply_rule",
    "discover_strategies",
    "many_shot_examples",
    "register_strategy",
    "rule_strategy",
    "strategy",
]
