"""`selfmoa redteam` on the tiny Llama (mock generation): table printed, attacks archived."""

import json

import yaml

from conftest import tiny_loop_config
from selfmoa.cli.main import main
from selfmoa.core.records import ArchiveEntry
from selfmoa.core.rundir import read_records


def test_redteam_command_writes_attacks_with_outcomes_and_prints_the_table(
    tmp_path, tiny_model, capsys
):
    data = tiny_loop_config(tiny_model, output_dir=str(tmp_path))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data))
    args = ["redteam", "--model", str(tiny_model), "--config", str(config), "--name", "rt"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| harm category | attack success" in out and "| strategy |" in out
    folder = tmp_path / "rt" / "round_00"
    assert not (folder / "train").exists(), "red teaming trains nothing"
    archive = read_records(folder / "archive" / "archive.jsonl", ArchiveEntry)
    harmful = [e for e in archive if e.prompt.label == "harmful"]
    assert harmful and all(e.outcomes and e.outcomes[0].policy == "base" for e in harmful)
    assert all(e.prompt.seed_id and e.prompt.form for e in harmful), "lineage to a seed"
    metrics = json.loads((folder / "archive" / "metrics.json").read_text())
    assert metrics["attack_success"]["n"] == sum(
        e.outcomes[0].unsafe_evaluation is not None for e in harmful
    )
    complied = [c for e in harmful if (c := e.outcomes[0].complied_evaluation) is not None]
    assert complied and metrics["compliance"]["n"] == len(complied)
    assert metrics["compliance"]["rate"] == sum(c > 0 for c in complied) / len(complied)
    assert "| strategy | attack success [95% interval] (n) | compliance" in out
    # a second call resumes: nothing is recomputed
    assert main(args) == 0
    assert "[start]" not in capsys.readouterr().out


def test_redteam_command_rejects_a_folder_that_is_not_an_adapter(tmp_path, tiny_model, capsys):
    data = tiny_loop_config(tiny_model, output_dir=str(tmp_path))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data))
    args = [
        "redteam",
        "--model",
        str(tiny_model),
        "--adapter",
        str(tmp_path),
        "--config",
        str(config),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a PEFT adapter folder" in err[0]
