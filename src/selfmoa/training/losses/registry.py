"""The loss registry: ``@register_loss`` where a loss is defined, discovery of the package.

A loss is one function from a ``PreferenceTerms`` batch to ``(total, preference term)``,
registered by name with ``@register_loss("name", uses_nll=...)`` in any module of the
``selfmoa.training.losses`` package; ``discover_losses`` imports every such module.
Nothing here imports torch: the loss modules import it inside their bodies (through
``terms``), so listing the names (``loss_names``) for config validation stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from selfmoa.core.plugin_discovery import import_modules

if TYPE_CHECKING:
    import torch

    from selfmoa.training.losses.terms import PreferenceTerms

LossFunction = Callable[["PreferenceTerms"], tuple["torch.Tensor", "torch.Tensor"]]
PACKAGE = "selfmoa.training.losses"
# Modules of the package that hold the machinery, not losses.
INFRASTRUCTURE = frozenset({"registry", "terms"})


@dataclass(frozen=True)
class LossSpec:
    """A named loss: the scalar to minimise (with its preference term), whether it has an
    NLL term (``train.nll_weight`` must be 0 where it has none), and a one-line summary."""

    name: str
    compute: LossFunction
    uses_nll: bool
    summary: str


_REGISTERED: dict[str, LossSpec] = {}


def register_loss(name: str, *, uses_nll: bool) -> Callable[[LossFunction], LossFunction]:
    """Register the decorated function as loss ``name`` (``train.loss: name``); its
    docstring's first line is the summary shown in errors and docs."""

    def register(compute: LossFunction) -> LossFunction:
        if name in _REGISTERED:
            raise ValueError(f"loss {name!r} is registered twice")
        summary = (compute.__doc__ or "").strip().partition("\n")[0]
        _REGISTERED[name] = LossSpec(name, compute, uses_nll, summary)
        return compute

    return register


@cache
def discover_losses() -> dict[str, LossSpec]:
    """Every registered loss by name (sorted), after importing each module of the package."""
    import_modules(PACKAGE, skip=INFRASTRUCTURE)
    return dict(sorted(_REGISTERED.items()))


def loss_names() -> tuple[str, ...]:
    """The names ``train.loss`` accepts."""
    return tuple(discover_losses())


def losses_without_nll() -> tuple[str, ...]:
    """The losses that have no NLL term."""
    return tuple(name for name, spec in discover_losses().items() if not spec.uses_nll)
