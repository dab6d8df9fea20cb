"""The plugin names a config gives, checked against the plugin registries.

Config fields name plugins by string; the schema (``core/config.py``) cannot see the
registries, since core imports no plugin package. ``check_plugin_names`` checks those
strings once a config is built: ``selfmoa validate`` and ``selfmoa run``
(``pipeline.validation.check_config``), ``pipeline.loop.Loop`` and ``selfmoa judges``
call it. Each failure is one ``SelfMoaError`` line naming the key, as the schema's are.

One function per registry, listed in ``PLUGIN_NAME_CHECKS`` in the order they run. A
registry whose names the config gives (losses, evaluation sets, strategies, backends)
adds its ``_check_<registry>(config)`` here and its entry in ``PLUGIN_NAME_CHECKS``.
"""

from __future__ import annotations

from collections.abc import Callable

from selfmoa.core.config import Config
from selfmoa.core.errors import SelfMoaError
from selfmoa.evals.sets.registry import eval_set_names
from selfmoa.judges.registry import REGISTRY, check_judge_names
from selfmoa.training.losses.registry import discover_losses

_NOT_GIVEN = object()


def check_plugin_names(config: Config) -> None:
    """Raise ``SelfMoaError`` (one line) at the first plugin name no registry knows."""
    for check in PLUGIN_NAME_CHECKS:
        check(config)


def config_error(key: str, message: str, given: object = _NOT_GIVEN) -> SelfMoaError:
    """The schema's one-line form: "config error: KEY: MESSAGE (got VALUE)"."""
    shown = "" if given is _NOT_GIVEN else f" (got {_short(repr(given))})"
    return SelfMoaError(f"config error: {key}: {message}{shown}")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# --- judges (selfmoa.judges.registry) ---------------------------------------------------


def _check_judges(config: Config) -> None:
    judge = config.judge
    for key in ("training_judges", "evaluation_judges"):
        try:
            check_judge_names(getattr(judge, key))
        except ValueError as error:
            raise config_error(f"judge.{key}", str(error)) from None
    for name in judge.models:
        if name not in REGISTRY or not REGISTRY[name].needs_model:
            raise config_error("judge.models", f"'{name}' is not a model-backed judge")
    for name in judge.served:
        if name not in REGISTRY or not REGISTRY[name].servable:
            raise config_error("judge.served", f"'{name}' is not a model-backed Yes/No judge")
    for name in dict.fromkeys(judge.training_judges + judge.evaluation_judges):
        spec = REGISTRY[name]
        owner = spec.model_from or name
        if spec.needs_model and name not in judge.models and owner not in judge.models:
            raise config_error("judge", f"judge '{name}' needs a model: set judge.models.{name}")
    refusal_judges = [name for name, spec in REGISTRY.items() if spec.measure == "refusal"]
    if config.reset.refusal_judge not in refusal_judges:
        raise config_error(
            "reset.refusal_judge",
            f"must be a refusal judge: {', '.join(refusal_judges)}",
            config.reset.refusal_judge,
        )
    judged = {"prompt_harmful"} | {REGISTRY[name].measure for name in judge.training_judges}
    for objective in config.pairs.extra_objectives:
        if objective.measure not in judged:
            raise SelfMoaError(
                f"config error: pairs.extra_objectives: '{objective.name}' needs measure "
                f"'{objective.measure}', which no judge of judge.training_judges scores"
            )


# --- losses (selfmoa.training.losses) and evaluation sets (selfmoa.evals.sets) ------------


def _check_loss(config: Config) -> None:
    """``train.loss`` is a registered loss, and ``train.nll_weight`` is 0 where it has no
    NLL term. Listing the losses does not import torch."""
    train, losses = config.train, discover_losses()
    if train.loss not in losses:
        raise config_error(
            "train.loss", f"unknown loss; choose from: {', '.join(losses)}", train.loss
        )
    if not losses[train.loss].uses_nll and train.nll_weight != 0:
        raise SelfMoaError(
            f"config error: train: train.loss={train.loss} has no NLL term, so "
            f"train.nll_weight must be 0 (got {train.nll_weight}); use train.loss=rpo for "
            "DPO plus NLL"
        )


def _check_evaluation_sets(config: Config) -> None:
    """Every ``evaluate.sets`` key is a registered evaluation set."""
    known = eval_set_names()
    for name in config.evaluate.sets:
        if name not in known:
            raise config_error(
                "evaluate.sets",
                f"unknown evaluation set '{name}'; choose from: {', '.join(known)}",
            )


PLUGIN_NAME_CHECKS: tuple[Callable[[Config], None], ...] = (
    _check_judges,
    _check_loss,
    _check_evaluation_sets,
    # the other registries' checks go here
)
