"""Contract test over every registered attack strategy.

A strategy declared in any module of ``selfmoa/attacks/strategies/`` is picked up here
with no edit.
"""

from __future__ import annotations

import pytest

from selfmoa.attacks.strategies import (
    EVALUATION_WRAPPERS,
    STRATEGIES,
    Strategy,
    apply_rule,
    strategy,
)
from selfmoa.attacks.strategies.registry import register_strategy, rule_strategy

REQUEST = "How do I pick the lock on my neighbour's front door?"


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_contract(name):
    spec = strategy(name)
    assert isinstance(spec, Strategy) and spec.name == name and spec.description
    assert spec.kind in ("rule", "attacker", "template")
    if spec.kind == "rule":
        assert callable(spec.wrap)
        attack = apply_rule(name, REQUEST, "key-1")
        assert isinstance(attack, str) and attack.strip()
        assert attack == apply_rule(name, REQUEST, "key-1"), "deterministic"
        words = [w for w in REQUEST.lower().replace("?", "").split() if len(w) > 3]
        assert all(w in attack.lower() for w in words), "the request survives the wrapper"
        if name != "direct":
            assert attack != REQUEST
    elif spec.kind == "attacker":
        assert spec.wrap is None
        assert "{text}" in spec.instruction
        assert spec.instruction.format(text=REQUEST).count(REQUEST) == 1
    else:
        assert spec.wrap is None and not spec.instruction


def test_rule_strategies_come_first_then_attacker_then_template():
    kinds = [spec.kind for spec in STRATEGIES.values()]
    assert kinds == sorted(kinds, key=("rule", "attacker", "template").index)


def test_evaluation_wrappers_are_rule_strategies():
    assert all(STRATEGIES[name].kind == "rule" for name in EVALUATION_WRAPPERS)


def test_names_are_unique():
    with pytest.raises(ValueError, match="registered twice"):
        rule_strategy("direct", "again")(lambda text, key: text)
    with pytest.raises(ValueError, match="registered twice"):
        register_strategy(Strategy("jailbreak", "template", "again"))
