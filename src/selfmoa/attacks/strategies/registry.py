"""The attack-strategy registry: a strategy is declared in the module that defines it.

A rule strategy is a function ``(text, key) -> attack`` decorated with
``@rule_strategy(name, description)``; an attacker or template strategy is a module-level
``register_strategy(Strategy(...))``. Either goes in any module of the
``selfmoa.attacks.strategies`` package; ``discover_strategies`` imports every such module
and lists rule strategies first, then attacker, then template ones, each kind in the
order its modules declare them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from selfmoa.core.plugin_discovery import import_modules

StrategyKind = Literal["rule", "attacker", "template"]
KIND_ORDER: tuple[StrategyKind, ...] = ("rule", "attacker", "template")
PACKAGE = "selfmoa.attacks.strategies"
# Modules of the package that hold the machinery, not strategies.
INFRASTRUCTURE = frozenset({"registry"})
RuleWrap = Callable[[str, str], str]


@dataclass(frozen=True)
class Strategy:
    """A named way of turning a request into an attack.

    ``wrap(text, key)`` builds the attack for rule strategies (``key`` makes any choice
    deterministic); attacker strategies carry the ``instruction`` given to the attacker
    ({text} is the request) and the forced ``opening`` of its answer.
    """

    name: str
    kind: StrategyKind
    description: str
    wrap: RuleWrap | None = None
    instruction: str = ""
    opening: str = ""


_REGISTERED: dict[str, Strategy] = {}


def register_strategy(spec: Strategy) -> Strategy:
    """Add ``spec`` to the registry (a name may be registered once)."""
    if spec.name in _REGISTERED:
        raise ValueError(f"strategy {spec.name!r} is registered twice")
    _REGISTERED[spec.name] = spec
    return spec


def rule_strategy(name: str, description: str) -> Callable[[RuleWrap], RuleWrap]:
    """Register the decorated ``(text, key) -> attack`` function as rule strategy ``name``."""

    def register(wrap: RuleWrap) -> RuleWrap:
        register_strategy(Strategy(name, "rule", description, wrap))
        return wrap

    return register


@cache
def discover_strategies() -> dict[str, Strategy]:
    """Every registered strategy by name, after importing each module of the package."""
    import_modules(PACKAGE, skip=INFRASTRUCTURE)
    declared = list(_REGISTERED.values())
    ordered = sorted(declared, key=lambda s: (KIND_ORDER.index(s.kind), declared.index(s)))
    return {spec.name: spec for spec in ordered}


def pick(options: Sequence[str], key: str, salt: str = "") -> str:
    """One of ``options``, chosen by ``key`` and ``salt`` alone (deterministic)."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()
    return options[int(digest, 16) % len(options)]
