"""The stage table is the one description of the loop: its declarations must be complete."""

from __future__ import annotations

import copy
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel

from selfmoa.core.backend_settings import declared_backends, owners_of
from selfmoa.core.config import Config, config_from_dict
from selfmoa.core.configview import ConfigView, UndeclaredConfigRead, covers, execution_keys
from selfmoa.core.errors import SelfMoaError
from selfmoa.pipeline.fingerprints import config_inputs
from selfmoa.pipeline.stage_table import STAGE_TABLE, StageKey, plan, spec_of


def leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if model is Config and name == "backend":  # one declared settings class per kind
            members = [leaf_keys(m, "backend.") for m in declared_backends().values()]
            keys += list(dict.fromkeys(key for member in members for key in member))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += leaf_keys(annotation, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


ALL_KEYS = leaf_keys(Config)


def candidates(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1]
    if isinstance(value, float):
        return [value * 0.5 if value else 0.5, value + 0.1]
    if isinstance(value, str):
        return [
            "val", "cpu", "bfloat16", "mock", "label-model", "rpo", value + "2",
            "embedded:all-minilm-l6-v2", "http://127.0.0.1:9000/v1", "refusal-keywords",
        ]  # fmt: skip
    if value is None:  # an optional path (models.policy_adapter) or number
        return ["some/adapter", 1.0]
    if isinstance(value, list):
        if value and isinstance(value[0], dict):  # a list of sections: change a field
            return [[{**value[0], "min_margin": 0.3}, *value[1:]]]
        return [value[:-1], [*value, value[0]]] if value else [["x"]]
    if isinstance(value, dict):
        if value:
            return [{k: v * 2 for k, v in value.items()}]
        return [{"key": "reply"}, {"llm-rubric": "org/judge-model"}, {"0": "served-name"}]
    raise AssertionError(f"no mutation for {value!r}")


def field_annotation(dotted: str) -> Any:
    model: Any = Config
    *path, last = dotted.split(".")
    for part in path:
        if model is Config and part == "backend":  # the settings class that has the field
            model = next(m for m in declared_backends().values() if last in m.model_fields)
        else:
            model = model.model_fields[part].annotation
    return model.model_fields[last].annotation


def owning_backend(dotted: str) -> dict[str, Any]:
    """A backend.* key of another kind than the default needs that kind to be given."""
    name = dotted.removeprefix("backend.")
    if not dotted.startswith("backend.") or name in declared_backends()["hf"].model_fields:
        return {}
    return {"backend": {"kind": owners_of(name)[0]}}


def mutated(base: dict[str, Any], dotted: str) -> Config:
    *path, last = dotted.split(".")
    value = _get(base, dotted)
    annotation = field_annotation(dotted)
    literals = [  # a Literal, alone or inside an optional (Literal[...] | None)
        member for member in (annotation, *get_args(annotation)) if get_origin(member) is Literal
    ]
    options = [c for member in literals for c in get_args(member) if c != value]
    for candidate in options + candidates(value):
        data = copy.deepcopy(base)
        node = data
        for part in path:
            node = node[part]
        node[last] = candidate
        if dotted == "backend.kind" and candidate in declared_backends():
            # another kind takes only its own keys: drop the old kind's own settings
            fields = declared_backends()[candidate].model_fields
            data["backend"] = {k: v for k, v in node.items() if k in fields}
        try:
            return config_from_dict(data)
        except SelfMoaError:
            continue
    raise AssertionError(f"found no valid new value for {dotted}")


def _get(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[part]
    return data


def test_every_config_key_is_read_by_a_stage_or_only_says_where_work_runs():
    declared = frozenset().union(*(spec.reads_config for spec in STAGE_TABLE))
    unread = [k for k in ALL_KEYS if not covers(declared | execution_keys(), k) and k != "rounds"]
    assert unread == []
    for spec in STAGE_TABLE:
        for key in spec.reads_config:
            assert any(k == key or k.startswith(key + ".") for k in ALL_KEYS), key


# Keys whose base value must be non-empty to be changed alone (an extra objective
# needs its weight, so it cannot appear without touching train.objective_weights).
NON_EMPTY_BASE = {
    "pairs.extra_objectives": {
        "pairs": {"extra_objectives": [{"name": "calm", "measure": "refusal"}]},
        "train": {"objective_weights": {"safety": 1.0, "helpfulness": 0.5, "calm": 0.5}},
    }
}


@pytest.mark.parametrize("dotted", ALL_KEYS)
def test_changing_a_key_changes_exactly_the_stages_that_declare_it(dotted):
    base_config = config_from_dict(
        {"rounds": 2, **NON_EMPTY_BASE.get(dotted, {}), **owning_backend(dotted)}
    )
    base = base_config.model_dump(mode="json")
    after = mutated(base, dotted)
    stages = plan(base_config)
    changed = {k for k in stages if config_inputs(k, base_config) != config_inputs(k, after)}
    expected = {k for k in stages if covers(spec_of(k).reads_config, dotted)}
    assert changed == expected


def test_execution_keys_change_no_fingerprint_but_are_recorded_elsewhere():
    base = config_from_dict({"rounds": 1})
    moved = config_from_dict({"rounds": 1, "models": {"device": "cpu"}, "output_dir": "elsewhere"})
    assert all(config_inputs(k, base) == config_inputs(k, moved) for k in plan(base))


def test_a_stage_cannot_read_a_key_it_did_not_declare():
    view = ConfigView(Config(), frozenset({"judge"}), "round 0 judge")
    assert view.judge.repetition_ngram == 3
    assert view.models.device == "auto", "execution settings are readable by every stage"
    with pytest.raises(UndeclaredConfigRead, match="'train.beta'"):
        _ = view.train.beta


def test_upstream_stages_run_before_the_stages_that_read_them():
    config = config_from_dict({"rounds": 3, "train": {"replay_previous_rounds": True}})
    order = plan(config)
    for position, key in enumerate(order):
        for up in spec_of(key).upstream(config, key.round):
            assert order.index(up) < position, (up, key)
    train2 = spec_of(StageKey("train", 2)).upstream(config, 2)
    assert StageKey("pairs", 0) in train2 and StageKey("train", 1) in train2


def test_upstream_stages_run_before_the_stages_that_read_them_with_the_safety_reset():
    config = config_from_dict({"rounds": 2, "reset": {"enabled": True}})
    order = plan(config)
    for position, key in enumerate(order):
        for up in spec_of(key).upstream(config, key.round):
            assert up in order[:position], f"{key.label} reads {up.label}"


def test_a_refit_of_any_fitted_judge_changes_the_judge_weights_identity():
    from selfmoa.pipeline.assets import judge_weight_files, weights_digest

    assert {"content_weights.json", "probe_weights.json"} <= set(judge_weight_files())
    files = [("content_weights.json", b"{}"), ("probe_weights.json", b'{"w": [1]}')]
    refit = [files[0], ("probe_weights.json", b'{"w": [2]}')]
    assert weights_digest(files) != weights_digest(refit)
    assert weights_digest(files) == weights_digest(list(reversed(files)))
