"""Contract test over every registered evaluation set, and the identity built from them.

A set declared in any module of ``selfmoa/evals/sets/`` is picked up here with no edit:
its declared files exist, it loads a non-empty list with its declared label, and the
evaluate stage's fingerprint follows the files it declares.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from selfmoa.core.config import load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.evals.sets import EVAL_SETS, HARMFUL_SETS, DataFiles, EvalPrompt, EvalSet, team_file
from selfmoa.evals.sets.registry import register_eval_set
from selfmoa.pipeline.assets import asset_identity, evaluation_sets_identity
from selfmoa.pipeline.plugin_names import check_plugin_names


@pytest.mark.parametrize("name", sorted(EVAL_SETS))
def test_eval_set_contract(name):
    spec = EVAL_SETS[name]
    assert isinstance(spec, EvalSet) and spec.name == name and spec.summary
    assert spec.label in ("harmful", "benign")
    assert callable(spec.load) and spec.reads, "declares the files it reads"
    for files in spec.reads:
        assert all(path.is_file() for path in files.paths())
    prompts = spec(0, "test", 3)
    assert prompts and all(isinstance(p, EvalPrompt) for p in prompts)
    assert {p.label for p in prompts} == {spec.label}
    assert {p.eval_set for p in prompts} == {name}
    assert len({p.id for p in prompts}) == len(prompts)
    assert all(p.text.strip() for p in prompts)
    assert (name in HARMFUL_SETS) == (spec.label == "harmful")


def test_names_are_unique():
    with pytest.raises(ValueError, match="registered twice"):
        register_eval_set("mtbench", label="benign", reads=())(EVAL_SETS["mtbench"].load)


def test_config_names_a_registered_set():
    config = load_config("configs/default.yaml")
    assert set(config.evaluate.sets) <= set(EVAL_SETS)
    bad = load_config(
        "configs/default.yaml", ["evaluate.sets={harmbench: 4, benign_heldout: 4, nope: 3}"]
    )
    with pytest.raises(SelfMoaError, match="evaluate.sets: unknown evaluation set 'nope'"):
        check_plugin_names(bad)


def test_the_fingerprint_identity_is_built_from_the_declarations():
    assert asset_identity("evaluation_sets", None) == evaluation_sets_identity(EVAL_SETS.values())


def with_reads(name: str, reads: tuple[DataFiles, ...]) -> list[EvalSet]:
    sets = [EVAL_SETS[n] for n in ("benign_forms", "mtbench", "rho_overrefusal")]
    return [replace(s, reads=reads) if s.name == name else s for s in sets]


def test_identity_changes_when_a_declared_file_list_changes():
    rho = EVAL_SETS["rho_overrefusal"].reads
    same = evaluation_sets_identity(with_reads("rho_overrefusal", rho))
    assert same == evaluation_sets_identity(with_reads("rho_overrefusal", rho)), "stable"
    fewer = evaluation_sets_identity(with_reads("rho_overrefusal", rho[:1]))
    more = evaluation_sets_identity(with_reads("mtbench", (team_file("benign_forms.yaml"),)))
    assert len({same, fewer, more}) == 3


def test_identity_changes_when_a_declared_file_changes(tmp_path: Path, monkeypatch):
    package = tmp_path / "contract_eval_data"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "prompts.yaml").write_text("- {text: one, category: c, form: question}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    files = (DataFiles("contract_eval_data", "contract-eval-data", "prompts.yaml"),)
    before = evaluation_sets_identity(with_reads("benign_forms", files))
    (package / "prompts.yaml").write_text("- {text: two, category: c, form: question}\n")
    assert evaluation_sets_identity(with_reads("benign_forms", files)) != before
