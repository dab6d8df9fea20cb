"""The bad-input matrix: each bad input ends `selfmoa validate` or `selfmoa run` with one line.

Every case must exit with code 2 and print exactly one `selfmoa: error:` line
(no traceback); the run-time cases also check that finished work is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import tiny_loop_config
from selfmoa.cli.main import main

DEFAULT = str(Path(__file__).parents[1] / "configs" / "default.yaml")


def one_line_error(capsys, argv: list[str], *expected: str) -> str:
    """Run the CLI: exit 2 with one `selfmoa: error:` line holding every ``expected``."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    # progress bars share stderr; the error itself is one line
    lines = [x for x in captured.err.replace("\r", "\n").splitlines() if x.startswith("selfmoa")]
    assert len(lines) == 1 and lines[0].startswith("selfmoa: error: "), captured.err
    assert "Traceback" not in captured.err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "latin.yaml").write_bytes(b"name: x\nrounds: \xff\xfe\n")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    (tmp_path / "empty-model").mkdir()
    (tmp_path / "a-file").write_text("x")
    return {name: str(tmp_path / name) for name in ("latin.yaml", "list.yaml", "broken.yaml")} | {
        "tmp": str(tmp_path)
    }


CONFIG_CASES = [
    (["foo=1"], "unknown key 'foo'"),
    (["rounds"], "must look like key=value"),
    (["rounds=0"], "rounds"),
    (["backend.batch_size=-1"], "backend.batch_size"),
    (["redteam.strategies=[]"], "redteam.strategies is empty"),
    (["redteam.strategies=[no_such_strategy]"], "unknown strategy 'no_such_strategy'"),
    (["redteam.benign_strategies=[paraphrase]"], "'paraphrase' is not a rule strategy"),
    (["models.device=tpu"], "models.device"),
    (["models.policy=/no/such/model"], "models.policy: model path /no/such/model does not exist"),
    (["models.policy={tmp}/a-file"], "is a file"),
    (["models.policy={tmp}/empty-model"], "is an empty folder"),
    (["train.learning_rate=.nan"], "train.learning_rate"),
    (["train.beta=.inf"], "train.beta"),
    (["evaluate.sets={harmbench: abc, benign_heldout: 4}"], "evaluate.sets"),
    (["evaluate.sets={harmbench: 4}"], "needs benign_heldout"),
    (["evaluate.sets={harmbench: 4, benign_heldout: 4, nope: 3}"], "evaluate.sets"),
    (["train.loss=nope"], "train.loss: unknown loss; choose from: dpo, ipo"),
    (["train.loss=ipo"], "train.nll_weight must be 0"),
    (["train.objective_weights={safety: 1.0}"], "missing helpfulness"),
    (["train.objective_weights={safety: 0, helpfulness: 0}"], "at least one objective"),
    (["train.objective_weights={safety: -1, helpfulness: 1}"], "weight of safety must be >= 0"),
    (["train.objective_weights={safety: 1, harmlessness: 1}"], "train.objective_weights"),
    (["benign_heldout_every=1000"], "holds out no benign prompt"),
    (
        ["redteam.seeds_per_round=0", "redteam.jailbreak_prompts_per_round=0"],
        "no round has a harmful prompt",
    ),
    (["redteam.seed_sources=[]"], "redteam.seed_sources"),
    (["train.target_modules=[]"], "train.target_modules"),
    (["train.lora_r=ten"], "train.lora_r"),
    (["backend.kind=openai", "backend.base_url=localhost:8080"], "must start with http://"),
    (
        ["backend.kind=openai", "backend.lora_names={first: adapter}"],
        "'first' is not a round number",
    ),
    (["backend.mock_script={a: b}"], "backend.mock_script is a setting of backend.kind mock"),
    (["backend.kind=gpt"], "backend.kind: must be one of hf, llamacpp, mock, openai, vllm"),
    (
        ["backend.kind=openai", "backend.api_key_env=SELFMOA_NO_SUCH_VARIABLE"],
        "SELFMOA_NO_SUCH_VARIABLE, which is not set",
    ),
    (["backend.kind=vllm"], "pip install 'selfmoa[vllm]'"),
]


@pytest.mark.parametrize("overrides,expected", CONFIG_CASES, ids=lambda c: str(c)[:40])
def test_bad_config_value(capsys, files, overrides, expected):
    overrides = [o.replace("{tmp}", files["tmp"]) for o in overrides]
    one_line_error(capsys, ["validate", DEFAULT, *overrides], expected)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("latin.yaml", "is not UTF-8 text"),
        ("list.yaml", "must hold a mapping"),
        ("broken.yaml", "is not valid YAML"),
        ("missing.yaml", "config file not found"),
    ],
)
def test_bad_config_file(capsys, files, name, expected):
    one_line_error(capsys, ["validate", str(Path(files["tmp"]) / name)], expected)


def test_run_stops_on_what_validate_rejects(capsys):
    one_line_error(capsys, ["run", DEFAULT, "redteam.strategies=[nope]"], "unknown strategy")


def test_default_config_is_valid(capsys):
    assert main(["validate", DEFAULT]) == 0
    assert capsys.readouterr().out.startswith("ok:")


def test_run_directory_of_an_older_selfmoa(capsys, tmp_path):
    old = tmp_path / "demo" / "round_00" / "sample"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps({"fingerprint": "x", "counts": {}}))
    one_line_error(
        capsys, ["run", DEFAULT, f"output_dir={tmp_path}"], "older selfmoa; use a new run name"
    )


def tiny_mock_config(tmp_path: Path, tiny_model: Path, **train: object) -> Path:
    data = tiny_loop_config(
        tiny_model,
        name="bad",
        output_dir=str(tmp_path),
        train={"epochs": 2, "pairs_per_step": 2, "checkpoint_every": 1, **train},
    )
    path = tmp_path / f"bad-{len(list(tmp_path.glob('*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
def test_run_time_faults_end_in_one_line_and_keep_finished_work(
    capsys, tmp_path, tiny_model, monkeypatch
):
    config = tiny_mock_config(tmp_path, tiny_model)
    run_dir = tmp_path / "bad"
    assert main(["run", str(config)]) == 0
    capsys.readouterr()

    # A non-finite loss stops training: nothing NaN is saved, earlier stages stay done.
    # (The config's bounds refuse a learning rate that would blow up, so the loss of the
    # retrained stage is made non-finite directly.)
    import selfmoa.training.loop as training_loop

    finite_loss = training_loop.step_loss

    def non_finite_loss(*args, **kwargs):
        loss, stats = finite_loss(*args, **kwargs)
        return loss * float("nan"), {**stats, "loss": float("nan")}

    monkeypatch.setattr(training_loop, "step_loss", non_finite_loss)
    diverging = tiny_mock_config(tmp_path, tiny_model, learning_rate=0.5)
    one_line_error(capsys, ["run", str(diverging)], "training diverged at step")
    monkeypatch.setattr(training_loop, "step_loss", finite_loss)
    train = run_dir / "round_00" / "train"
    assert not (train / "adapter").exists() and not (train / "manifest.json").exists()
    assert (run_dir / "round_00" / "pairs" / "manifest.json").is_file()

    # The report refuses to present a stage whose inputs changed.
    one_line_error(
        capsys, ["report", str(run_dir)], "round 0 evaluate is stale (waits for round 0 train)"
    )

    # A corrupt line in a stage's records names the file and line.
    prompts = run_dir / "round_00" / "redteam" / "prompts.jsonl"
    with open(prompts, "a") as handle:
        handle.write("{oops\n")
    lines = len(prompts.read_text().splitlines())
    one_line_error(capsys, ["run", str(config)], f"prompts.jsonl line {lines} is not a JSON")
