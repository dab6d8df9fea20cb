"""Contract of the judge registry: every judge is declared in one catalog module, and one
new module is all it takes to add one (the registry finds it, the config may name it)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from selfmoa.core.config import config_from_dict
from selfmoa.judges import catalog, registry
from selfmoa.judges.base import MEASURES, JudgeInput
from selfmoa.judges.registry import (
    REGISTRY,
    JudgeContext,
    JudgeSpec,
    build_judges,
    discover_judges,
    run_judges,
)
from selfmoa.pipeline.plugin_names import check_plugin_names

# The worked example of docs/extending.md ("Adding a judge"): the whole new file.
ANSWER_LENGTH = '''
"""The answer-length judge: a longer answer is more helpful, up to 50 words."""

from __future__ import annotations

from selfmoa.judges.base import Judge, JudgeInput, Verdict
from selfmoa.judges.spec import JudgeContext, JudgeSpec


class AnswerLengthJudge:
    name = "answer-length"
    measure = "helpfulness"

    def __init__(self, full_words: int) -> None:
        self.full_words = full_words

    def judge(self, items: list[JudgeInput]) -> list[Verdict]:
        words = [len(item.response_text.split()) for item in items]
        return [Verdict(score=min(1.0, n / self.full_words)) for n in words]


def answer_length(context: JudgeContext, spec: JudgeSpec) -> Judge:
    return AnswerLengthJudge(full_words=50)


JUDGES = (
    JudgeSpec(
        "answer-length",
        "helpfulness",
        f"{__name__}:answer_length",
        "min(1, words in the answer / 50)",
    ),
)
'''


def catalog_modules() -> list[ModuleType]:
    infos = pkgutil.iter_modules(catalog.__path__, catalog.__name__ + ".")
    return [importlib.import_module(info.name) for info in infos]


def declared_in() -> dict[str, str]:
    """Judge name -> the catalog module that declares it (each name once)."""
    where: dict[str, str] = {}
    for module in catalog_modules():
        for spec in module.JUDGES:
            assert spec.name not in where, f"{spec.name} declared twice"
            where[spec.name] = module.__name__
    return where


def test_every_catalog_module_declares_its_judges_and_the_registry_holds_exactly_them():
    for module in catalog_modules():
        judges = getattr(module, "JUDGES", None)
        assert isinstance(judges, tuple) and judges, f"{module.__name__} declares no JUDGES"
        assert all(isinstance(spec, JudgeSpec) for spec in judges)
        assert all(REGISTRY[spec.name] == spec for spec in judges)
    assert set(declared_in()) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_registered_judge_keeps_the_contract(name):
    spec = REGISTRY[name]
    assert spec.name == name and name == name.strip().lower() and " " not in name
    assert spec.measure in MEASURES
    assert spec.summary.strip()
    module_name, function = spec.factory.split(":")
    assert module_name == declared_in()[name], "the factory lives where the judge is declared"
    assert module_name.startswith("selfmoa.judges.")
    assert callable(getattr(importlib.import_module(module_name), function))
    assert spec.needs_model or not spec.servable, "only a model-backed judge can be served"
    if spec.model_from is not None:
        assert REGISTRY[spec.model_from].needs_model and spec.needs_model


def test_the_judge_names_and_measures_are_those_the_configs_and_reports_know():
    assert {name: spec.measure for name, spec in REGISTRY.items()} == {
        "refusal-keywords": "refusal",
        "embedding-relevance": "helpfulness",
        "seed-lineage": "prompt_harmful",
        "content-refusal": "refusal",
        "content-unsafe": "unsafe",
        "content-probe-unsafe": "unsafe",
        "content-and-probe-unsafe": "unsafe",
        "llm-rubric": "unsafe",
        "llm-rubric-refusal": "refusal",
        "llama-guard-3": "unsafe",
        "llama-guard-4": "unsafe",
        "wildguard": "unsafe",
        "wildguard-refusal": "refusal",
        "shieldgemma": "unsafe",
        "reward-model": "helpfulness",
    }
    assert [n for n, s in REGISTRY.items() if s.needs_model and not s.servable] == ["reward-model"]


def test_reading_the_registry_imports_no_torch_or_transformers():
    code = (
        "import sys, selfmoa.judges.registry as r, selfmoa.pipeline.plugin_names; "
        "assert len(r.REGISTRY) > 10; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_config_schema_imports_nothing_from_the_judges():
    source = Path(sys.modules["selfmoa.core.config"].__file__).read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):  # function-local and TYPE_CHECKING ones too
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("selfmoa.judges"), node.module
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("selfmoa.judges") for a in node.names)


def fake_package(root: Path, name: str, modules: dict[str, str]) -> ModuleType:
    folder = root / name
    folder.mkdir()
    (folder / "__init__.py").write_text('"""A fake judge catalog."""\n')
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return importlib.import_module(name)


@pytest.fixture
def importable(tmp_path, monkeypatch):
    """tmp_path on sys.path; modules imported from it are forgotten after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def test_discovery_reads_every_module_of_a_package_and_only_its_judges(importable):
    package = fake_package(
        importable,
        "fake_catalog_a",
        {
            "zeta": 'from selfmoa.judges.spec import JudgeSpec\nJUDGES = (JudgeSpec("z", '
            '"unsafe", f"{__name__}:make", "z"), JudgeSpec("a", "refusal", "m:f", "a"))\n',
            "helpers": "SHARED = 1  # declares no judge\n",
            "beta": 'from selfmoa.judges.spec import JudgeSpec\nJUDGES = (JudgeSpec("m", '
            '"helpfulness", "m:f", "m"),)\n',
        },
    )
    found = discover_judges(package)
    assert list(found) == ["a", "m", "z"]  # sorted by name, whatever the files
    assert found["z"].factory == "fake_catalog_a.zeta:make"


def test_discovery_refuses_a_name_declared_twice_and_a_stray_entry(importable):
    line = (
        'from selfmoa.judges.spec import JudgeSpec as S\nJUDGES = (S("x", "unsafe", "m:f", "x"),)'
    )
    twice = fake_package(importable, "fake_catalog_b", {"one": line, "two": line})
    with pytest.raises(ValueError, match="judge 'x' is declared twice"):
        discover_judges(twice)
    stray = fake_package(importable, "fake_catalog_c", {"one": 'JUDGES = ("x",)\n'})
    with pytest.raises(TypeError, match="not a JudgeSpec"):
        discover_judges(stray)


def test_one_new_catalog_module_is_a_judge_the_config_can_name_and_the_loop_can_run(
    importable, monkeypatch
):
    extra = importable / "extra_catalog"
    extra.mkdir()
    (extra / "answer_length.py").write_text(ANSWER_LENGTH.lstrip())
    monkeypatch.setattr(catalog, "__path__", [*catalog.__path__, str(extra)])
    monkeypatch.setattr(registry, "REGISTRY", discover_judges(catalog))
    monkeypatch.setattr("selfmoa.pipeline.plugin_names.REGISTRY", registry.REGISTRY)

    spec = registry.REGISTRY["answer-length"]
    assert spec.factory == "selfmoa.judges.catalog.answer_length:answer_length"
    assert set(registry.REGISTRY) == set(REGISTRY) | {"answer-length"}
    config = config_from_dict({"judge": {"evaluation_judges": ["answer-length"]}})
    check_plugin_names(config)
    (judge,) = build_judges(["answer-length"], JudgeContext(config))
    items = [JudgeInput("p", "benign", "one two three four five"), JudgeInput("p", "benign", "")]
    assert [v.score for v in run_judges([judge], items)["answer-length"]] == [0.1, 0.0]
