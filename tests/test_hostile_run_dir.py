"""Hostile run directories and configs: nothing selfmoa did not write is truncated, taken
over or deleted, and every bad input is one line (exit 2) with nothing computed lost."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import get_origin

import pytest
import yaml

from conftest import tiny_loop_config
from selfmoa.cli.main import main
from selfmoa.core.backend_settings import declared_backends
from selfmoa.core.config import Config, Section, load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.rundir import RunDir
from test_bad_inputs import DEFAULT, one_line_error


def write_config(tmp_path: Path, tiny_model: Path, name: str = "hostile", **sections) -> Path:
    data = tiny_loop_config(tiny_model, name=name, output_dir=str(tmp_path), **sections)
    path = tmp_path / f"{name}-{len(list(tmp_path.glob('*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def make_run(tmp_path: Path, name: str = "run") -> Path:
    """A selfmoa-made run directory with a config.yaml, as `selfmoa run` leaves it."""
    run = RunDir(tmp_path / name)
    run.check_schema(create=True)
    config = load_config(DEFAULT, [f"output_dir={tmp_path}", f"name={name}"])
    (run.path / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return run.path


# --- the lock ---------------------------------------------------------------------------


def test_a_lock_symlink_truncates_nothing(capsys, tmp_path):
    run = make_run(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (run / ".lock").symlink_to(victim)
    one_line_error(capsys, ["report", str(run)], ".lock")
    assert victim.read_text() == "precious\n"


def test_a_lock_that_is_a_folder_is_one_line(capsys, tmp_path):
    run = make_run(tmp_path)
    (run / ".lock").mkdir()
    one_line_error(capsys, ["report", str(run)], "cannot use the lock file")


def test_an_existing_lock_file_is_not_truncated(tmp_path):
    run = make_run(tmp_path)
    (run / ".lock").write_text("left by an earlier run\n")
    RunDir(run).lock().close()
    assert (run / ".lock").read_text() == "left by an earlier run\n"


# --- folders selfmoa did not make -------------------------------------------------------


def test_a_folder_selfmoa_did_not_make_is_not_taken_over(capsys, tmp_path, tiny_model):
    foreign = tmp_path / "hostile"
    (foreign / "report").mkdir(parents=True)
    (foreign / "round_00" / "train").mkdir(parents=True)
    (foreign / "config.yaml").write_text("mine: 1\n")
    (foreign / "report" / "thesis.md").write_text("my thesis\n")
    (foreign / "round_00" / "train" / "notes.txt").write_text("my notes\n")
    before = {p: p.read_bytes() for p in foreign.rglob("*") if p.is_file()}
    config = write_config(tmp_path, tiny_model)
    one_line_error(capsys, ["run", str(config)], "was not made by selfmoa")
    after = {p: p.read_bytes() for p in foreign.rglob("*") if p.is_file()}
    assert after == before
    one_line_error(capsys, ["report", str(foreign)], "was not made by selfmoa")
    assert {p: p.read_bytes() for p in foreign.rglob("*") if p.is_file()} == before


def test_an_empty_folder_is_claimed_and_marked(tmp_path):
    (tmp_path / "empty").mkdir()
    RunDir(tmp_path / "empty").check_schema(create=True)
    assert json.loads((tmp_path / "empty" / "selfmoa.json").read_text())["schema"]


def test_a_run_path_that_is_a_file_is_one_line(capsys, tmp_path, tiny_model):
    (tmp_path / "hostile").write_text("a file\n")
    config = write_config(tmp_path, tiny_model)
    one_line_error(capsys, ["run", str(config)], "is a file")
    assert (tmp_path / "hostile").read_text() == "a file\n"


# --- a stale stage removes only what it wrote -------------------------------------------


def test_a_stale_stage_removes_only_the_files_it_wrote(tmp_path):
    run = RunDir(tmp_path / "run")
    run.check_schema(create=True)
    stage = run.stage("round_00/train", "round 0 train")
    stage.path.mkdir(parents=True)
    (stage.path / "before.txt").write_text("was here before the stage\n")
    stage.begin("first")
    (stage.path / "adapter").mkdir()
    (stage.path / "adapter" / "weights.bin").write_bytes(b"w")
    (stage.path / "metrics.jsonl").write_text("{}\n")
    stage.finish("first", {}, {}, {}, 1.0)
    assert json.loads(stage.file("manifest.json").read_text())["files"] == [
        "adapter/weights.bin",
        "metrics.jsonl",
        "started.json",
    ]
    (stage.path / "after.txt").write_text("a user's notes, added later\n")
    assert stage.begin("second") == "stale"
    left = sorted(p.relative_to(stage.path).as_posix() for p in stage.path.rglob("*"))
    assert left == ["after.txt", "before.txt", "started.json"]


def test_a_stale_partial_stage_keeps_the_files_it_found(tmp_path):
    run = RunDir(tmp_path / "run")
    run.check_schema(create=True)
    stage = run.stage("round_00/sample", "round 0 sample")
    stage.path.mkdir(parents=True)
    (stage.path / "notes.txt").write_text("mine\n")
    stage.begin("first")
    (stage.path / "responses.jsonl").write_text("{}\n")  # killed before its manifest
    assert stage.begin("second") == "stale"
    assert sorted(p.name for p in stage.path.iterdir()) == ["notes.txt", "started.json"]


def test_a_stage_folder_that_is_a_symlink_is_not_cleared(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep\n")
    run = RunDir(tmp_path / "run")
    run.check_schema(create=True)
    (run.path / "round_00").mkdir()
    (run.path / "round_00" / "sample").symlink_to(victim)
    stage = run.stage("round_00/sample", "round 0 sample")
    (victim / "manifest.json").write_text(json.dumps({"fingerprint": "x", "files": ["keep.txt"]}))
    with pytest.raises(SelfMoaError, match="symbolic link"):
        stage.begin("y")
    assert (victim / "keep.txt").read_text() == "keep\n"


@pytest.mark.slow
def test_a_rerun_keeps_a_users_file_in_a_stale_stage(capsys, tmp_path, tiny_model):
    config = write_config(tmp_path, tiny_model)
    assert main(["run", str(config)]) == 0
    train = tmp_path / "hostile" / "round_00" / "train"
    (train / "notes.txt").write_text("my notes\n")
    changed = write_config(tmp_path, tiny_model, train={"learning_rate": 1e-3})
    assert main(["run", str(changed)]) == 0
    assert (train / "notes.txt").read_text() == "my notes\n"
    assert "notes.txt" not in json.loads((train / "manifest.json").read_text())["files"]
    capsys.readouterr()


# --- damaged bookkeeping files ----------------------------------------------------------


@pytest.mark.parametrize(
    "relative,content,expected",
    [
        ("selfmoa.json", "[1]", "not a run marker selfmoa wrote"),
        ("selfmoa.json", "{", "cannot read"),
        ("round_00/redteam/manifest.json", "[]", "not a stage manifest selfmoa wrote"),
        ("round_00/redteam/started.json", '"x"', "not a stage start record selfmoa wrote"),
        ("round_00/redteam/manifest.json", "[" * 100_000, "cannot read"),
    ],
)
def test_damaged_bookkeeping_is_one_line(capsys, tmp_path, relative, content, expected):
    run = make_run(tmp_path)
    (run / relative).parent.mkdir(parents=True, exist_ok=True)
    (run / relative).write_text(content)
    one_line_error(capsys, ["status", str(run)], expected)


def test_an_unreadable_stage_folder_is_one_line(capsys, tmp_path, monkeypatch):
    # root reads through chmod 000, so the refusal the OS would give is simulated
    run = make_run(tmp_path)
    (run / "round_00" / "redteam").mkdir(parents=True)
    real_iterdir = Path.iterdir

    def refused(self):
        if self.name == "redteam":
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", refused)
    one_line_error(capsys, ["status", str(run)], "Permission denied")


def test_a_read_only_report_folder_is_one_line_and_keeps_the_stages(capsys, tmp_path, monkeypatch):
    import selfmoa.core.atomic as atomic

    run = make_run(tmp_path)
    real_replace = os.replace

    def read_only(source, target):
        if "report" in str(target):
            raise PermissionError(13, "Permission denied", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", read_only)
    with pytest.raises(SelfMoaError, match="Permission denied"):
        atomic.atomic_write_text(run / "report" / "report.md", "x")
    assert (run / "selfmoa.json").is_file() and not any((run / "report").iterdir())


# --- config values ----------------------------------------------------------------------


def test_every_number_of_the_config_has_an_upper_bound():
    unbounded, seen = [], []

    def visit(model: type[Section], prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            inner = getattr(annotation, "__args__", (annotation,))
            sections = [t for t in inner if isinstance(t, type) and issubclass(t, Section)]
            if model is Config and name == "backend":  # every declared backend's settings
                sections = list(declared_backends().values())
            for section in sections:
                visit(section, f"{prefix}{name}.")
            if sections:
                continue
            if get_origin(annotation) in (dict, list) or not any(t in (int, float) for t in inner):
                continue  # mappings of numbers are bounded by their validators (cases below)
            seen.append(f"{prefix}{name}")
            bounded = any(hasattr(m, "le") or hasattr(m, "lt") for m in field.metadata)
            if not bounded:
                unbounded.append(f"{prefix}{name}")

    visit(Config, "")
    assert unbounded == []
    assert "backend.concurrency" in seen and "backend.max_lora_rank" in seen, "backends visited"


HOSTILE_CONFIG_CASES = [
    (["redteam.seeds_per_round=1000000000"], "less than or equal to 10000"),
    (["sample.max_new_tokens=10000000"], "sample.max_new_tokens"),
    (["evaluate.sets={harmbench: 1000000000, benign_heldout: 4}"], "at most 100000 prompts"),
    (["redteam.strategies=" + json.dumps(["direct"] * 1001)], "at most 1000"),
    (["sample.prefill_refusals=['" + "x" * 10_001 + "']"], "at most 10000 characters"),
    (["train.objective_weights={safety: 1.0e12, helpfulness: 1}"], "at most 1000"),
    (["name=<img src=x onerror=alert(1)>"], "must be 1-100 characters"),
    (["name=" + "a" * 300], "(302 characters)"),
    (["name=a\x00b"], "name"),
    (["name=../escape"], "must be 1-100 characters"),
    (["output_dir=/proc/selfmoa-test"], "cannot create"),
    (["output_dir=a\x00b"], "output_dir"),
    (["rounds=" + "[" * 1000 + "]" * 1000], "nests too deeply"),
    (["rounds=" + "[" * 40 + "]" * 40], "nests deeper than 32 levels"),
]


@pytest.mark.parametrize("overrides,expected", HOSTILE_CONFIG_CASES, ids=lambda c: str(c)[:40])
def test_hostile_config_value(capsys, overrides, expected):
    one_line_error(capsys, ["validate", DEFAULT, *overrides], expected)


def test_output_dir_that_is_a_file_is_one_line(capsys, tmp_path):
    (tmp_path / "afile").write_text("x")
    one_line_error(capsys, ["validate", DEFAULT, f"output_dir={tmp_path}/afile"], "is a file")
    one_line_error(capsys, ["run", DEFAULT, f"output_dir={tmp_path}/afile"], "is a file")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("name: a\nname: b\n", "line 2 is not valid YAML: key 'name' is given twice"),
        ("train:\n  epochs: 1\n  epochs: 2\n", "key 'epochs' is given twice"),
        ("x: " + "[" * 1000 + "]" * 1000 + "\n", "nests too deeply"),
        ("".join("  " * i + f"a{i}:\n" for i in range(40)) + "  " * 40 + "b: 1\n", "nests deeper"),
    ],
)
def test_hostile_config_file(capsys, tmp_path, text, expected):
    (tmp_path / "c.yaml").write_text(text)
    one_line_error(capsys, ["validate", str(tmp_path / "c.yaml")], expected)


def test_tilde_in_output_dir_is_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load_config(DEFAULT, ["output_dir=~/runs"])
    assert config.run_dir == tmp_path / "runs" / "demo"


def test_a_number_as_run_name_is_a_name():
    assert load_config(DEFAULT, ["name=2024"]).name == "2024"
    assert load_config(DEFAULT, literal={"name": "2024"}).name == "2024"


def test_a_hash_in_an_override_is_kept_not_cut_as_a_comment(tmp_path):
    model = tmp_path / "my #model"
    model.mkdir()
    config = load_config(DEFAULT, [f"models.policy={model}"])
    assert config.models.policy == str(model)
    assert load_config(DEFAULT, literal={"models.policy": str(model)}).models.policy == str(model)


def test_redteam_flags_are_taken_as_written(capsys, tmp_path):
    model = tmp_path / "my #model"
    model.mkdir()
    # the empty model folder is refused by name: the path reached validation whole
    one_line_error(
        capsys,
        ["redteam", "--model", str(model), "--name", "2024", f"output_dir={tmp_path}"],
        f"{model} is an empty folder",
    )


def test_a_record_with_a_lone_surrogate_is_written_and_reads_back(tmp_path):
    from selfmoa.core.records import Prompt
    from selfmoa.core.rundir import append_records, read_records

    text = "a cut emoji \ud83d and \x1b]0;title\x07"
    prompt = Prompt(
        id="p", round=0, text=text, label="harmful", source="s", strategy="direct",
        seed_id="s0", seed_text="seed",
    )  # fmt: skip
    append_records(tmp_path / "prompts.jsonl", [prompt])
    assert read_records(tmp_path / "prompts.jsonl", type(prompt))[0].text == text


# --- links, FIFOs and other planted files (found in review) ------------------------------


@pytest.mark.parametrize("planted", ["events.jsonl", "round_00", "cache/judge_scores.jsonl"])
def test_a_symbolic_link_inside_a_run_is_refused_before_anything_is_written(
    capsys, tmp_path, planted
):
    run = make_run(tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text('{"secret": "token"}')  # no final newline
    target = run / planted
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(victim if planted == "round_00" else victim / "keep.txt")
    for command in (["report", str(run)], ["status", str(run)], ["export", str(run)]):
        one_line_error(capsys, command, "is a symbolic link inside the run directory")
    one_line_error(
        capsys,
        ["run", str(run / "config.yaml"), f"output_dir={tmp_path}", "name=run"],
        "is a symbolic link inside the run directory",
    )
    assert (victim / "keep.txt").read_text() == '{"secret": "token"}'
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]


def test_appends_never_follow_a_link_or_block_on_a_fifo(tmp_path):
    from selfmoa.core.records import Prompt
    from selfmoa.core.rundir import append_records

    victim = tmp_path / "victim.json"
    victim.write_text('{"secret": 1}')
    (tmp_path / "linked.jsonl").symlink_to(victim)
    os.mkfifo(tmp_path / "fifo.jsonl")
    prompt = Prompt(
        id="p", round=0, text="t", label="benign", source="s", strategy="direct",
        seed_id="s", seed_text="s",
    )  # fmt: skip
    for name in ("linked.jsonl", "fifo.jsonl"):
        with pytest.raises(SelfMoaError, match="remove it"):
            append_records(tmp_path / name, [prompt])
    assert victim.read_text() == '{"secret": 1}'


def test_a_lock_that_is_a_fifo_does_not_hang(capsys, tmp_path):
    run = make_run(tmp_path)
    os.mkfifo(run / ".lock")  # opened for writing without a reader: refused at once
    one_line_error(capsys, ["report", str(run)], "cannot use the lock file")


def test_a_planted_staging_link_is_removed_not_followed(tmp_path):
    from selfmoa.core.atomic import atomic_path

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "adapter_config.json").write_text("mine")
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / f".adapter.tmp-{os.getpid()}").symlink_to(victim)
    with atomic_path(stage / "adapter") as staging:
        staging.mkdir()
        (staging / "adapter_config.json").write_text("{}")
    assert (victim / "adapter_config.json").read_text() == "mine"
    assert not (stage / "adapter").is_symlink()


def test_yaml_aliases_and_odd_keys_are_one_line(capsys, tmp_path):
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    laughs += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}] " for i in range(9)]
    (tmp_path / "lol.yaml").write_text("\n".join(laughs) + "\n")
    one_line_error(capsys, ["validate", str(tmp_path / "lol.yaml")], "aliases (*name)")
    (tmp_path / "set.yaml").write_text("? !!set {a: null}\n: 1\n")
    one_line_error(capsys, ["validate", str(tmp_path / "set.yaml")], "is not valid YAML")


def test_error_lines_show_control_characters_as_text(capsys, tmp_path):
    (tmp_path / "esc.yaml").write_text('"\\e]0;PWNED\\a\\e[2J": 1\n')
    code = main(["validate", str(tmp_path / "esc.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "\x1b" not in err and "\\x1b]0;PWNED" in err


def test_train_into_a_folder_it_did_not_make_is_refused(capsys, tmp_path, tiny_model):
    from test_export import write_train_inputs

    config, pairs = write_train_inputs(tiny_model, tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "adapter").mkdir()
    (mine / "adapter" / "my_weights.bin").write_bytes(b"w")
    argv = ["train", str(config), "--pairs", str(pairs)]
    one_line_error(capsys, [*argv, "--out", str(mine)], "did not write")
    assert (mine / "adapter" / "my_weights.bin").read_bytes() == b"w"


def test_a_pickled_adapter_is_refused(capsys, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.bin").write_bytes(b"a pickle")
    one_line_error(
        capsys,
        ["validate", DEFAULT, f"models.policy_adapter={adapter}"],
        "no adapter_model.safetensors",
    )


def test_a_checkpoint_of_the_right_shape_but_foreign_contents_is_one_line(tiny_model, tmp_path):
    import torch

    from selfmoa.core.tensor_state import save_state
    from selfmoa.training.loop import TrainPaths, train_preference_lora
    from test_tiny_model import CONFIG, pairs

    paths = TrainPaths(tmp_path / "train")
    paths.root.mkdir()
    save_state(
        {"step": 1, "trainable": {"no.such.weight": torch.zeros(2)}, "optimizer": {},
         "scheduler": {}, "rng": torch.zeros(4, dtype=torch.uint8), "written_by": {}},
        paths.checkpoint,
    )  # fmt: skip
    with pytest.raises(SelfMoaError, match="does not fit this model"):
        train_preference_lora(str(tiny_model), pairs(), CONFIG, paths, device="cpu")
