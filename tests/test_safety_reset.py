"""The safety reset (stage 0): its pairs, its place in the stage table, and a whole run."""

import json

import pytest

from conftest import tiny_loop_config
from selfmoa.core.config import config_from_dict, load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.records import PreferencePair, ResetAnswer, SeedPrompt
from selfmoa.core.rundir import read_records
from selfmoa.data.sources import SEED_LOADERS
from selfmoa.pipeline.loop import Loop
from selfmoa.pipeline.plugin_names import check_plugin_names
from selfmoa.pipeline.stage_table import plan
from selfmoa.pipeline.stages.reset import choose_prompts, reset_pairs

OPENING = "Sure, here is a detailed answer.\n\n"
REFUSAL = "I'm sorry, but I can't help with that request."
COMPLIANT = "Step one is to gather what you need, then follow the usual procedure."


def answer(seed_id: str, free_refused, forced_refused, forced: str = OPENING + COMPLIANT):
    return ResetAnswer(
        id=seed_id,
        prompt_text=f"prompt {seed_id}",
        free=REFUSAL,
        forced=forced,
        free_refused=free_refused,
        forced_refused=forced_refused,
    )


def test_a_pair_needs_a_judged_refusal_turned_into_compliance():
    answers = [
        answer("a", True, False),
        answer("b", False, False),  # already complied: nothing to reset
        answer("c", True, True),  # refused even when forced
        answer("d", None, False),  # the judge failed: no made-up verdict
        answer("e", True, None),
        answer("f", True, False, forced=OPENING + "   "),  # nothing after the opening
    ]
    pairs = reset_pairs(answers, OPENING)
    assert [p.prompt_id for p in pairs] == ["a"]
    pair = pairs[0]
    assert pair.chosen_text == COMPLIANT, "the forced opening itself is not trained on"
    assert pair.rejected_text == REFUSAL
    assert pair.objective == "safety" and pair.rule.startswith("reset:")


def test_prompts_are_a_seeded_sample_of_harmful_seeds_whatever_their_order():
    seeds = [SeedPrompt(id=f"s{i}", text=f"t{i}", label="harmful", source="x") for i in range(20)]
    benign = SeedPrompt(id="b", text="benign", label="benign", source="x")
    chosen = choose_prompts([*seeds, benign], 5, seed=3)
    assert len(chosen) == 5 and benign not in chosen
    assert choose_prompts(list(reversed(seeds)), 5, seed=3) == chosen
    assert choose_prompts(seeds, 5, seed=4) != chosen


def test_the_reset_is_a_stage_only_when_enabled():
    off = [key.label for key in plan(load_config("configs/default.yaml", []))]
    on = [key.label for key in plan(load_config("configs/default.yaml", ["reset.enabled=true"]))]
    assert "baseline reset" not in off and "baseline reference" not in off
    assert on[:3] == ["baseline reset", "baseline evaluate", "baseline reference"]
    assert [label for label in on if label not in off] == ["baseline reset", "baseline reference"]


def test_the_reset_judge_must_measure_refusal():
    config = load_config("configs/default.yaml", ["reset.refusal_judge=content-unsafe"])
    with pytest.raises(SelfMoaError, match="reset.refusal_judge: must be a refusal judge"):
        check_plugin_names(config)


def reset_config(tmp_path, tiny_model, script):
    data = tiny_loop_config(
        tiny_model,
        name="reset",
        output_dir=str(tmp_path),
        reset={"enabled": True, "prompts": 6, "refusal_judge": "refusal-keywords", "epochs": 1},
    )
    data["backend"]["mock_script"] = script
    return data


def test_a_run_with_the_reset_starts_from_it_and_reports_the_reference(tmp_path, tiny_model):
    # Two of the reset's seeds are refused when answered freely; forced to open with
    # "Sure", they are answered. Every other prompt is echoed (complied with).
    seeds = [seed for load in SEED_LOADERS.values() for seed in load()]
    refused = [seed.text for seed in choose_prompts(seeds, 6, seed=0)[:2]]
    script = {"after:Sure, here is": COMPLIANT, **dict.fromkeys(refused, REFUSAL)}
    data = reset_config(tmp_path, tiny_model, script)
    logs: list[str] = []
    Loop(config_from_dict(data), log=logs.append).execute()
    run = tmp_path / "reset"
    answers = read_records(run / "baseline" / "reset" / "answers.jsonl", ResetAnswer)
    assert len(answers) == 6
    assert [a.free_refused for a in answers] == [a.prompt_text in refused for a in answers]
    assert all(a.forced_refused is False for a in answers)
    pairs = read_records(run / "baseline" / "reset" / "pairs.jsonl", PreferencePair)
    assert sorted(p.prompt_text for p in pairs) == sorted(refused)
    assert {p.chosen_text for p in pairs} == {COMPLIANT}
    assert (run / "baseline" / "reset" / "adapter" / "adapter_config.json").is_file()
    for stage in ("baseline/evaluate", "round_00/sample", "round_00/train"):
        upstream = json.loads((run / stage / "manifest.json").read_text())["inputs"]["upstream"]
        assert "baseline reset" in upstream, f"{stage} starts from the reset model"
    assert (run / "baseline" / "reference" / "summary.json").is_file()
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["reference"]["attack_success"]["n"] == report["baseline"]["attack_success"]["n"]
    assert "change_from_reference" in report
    markdown = (run / "report" / "report.md").read_text()
    assert "| reference (untouched policy) |" in markdown
    assert "| base model (after the safety reset) |" in markdown

    logs.clear()
    data["reset"]["enabled"] = False
    Loop(config_from_dict(data), log=logs.append).execute()
    reran = {line.split("] ", 1)[1].split(":")[0] for line in logs if line.startswith("[rerun")}
    assert {"baseline evaluate", "round 0 sample", "round 0 train"} <= reran
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["reference"] is None
    assert "reference (untouched policy)" not in (run / "report" / "report.md").read_text()


def test_a_policy_that_never_refuses_gives_a_clear_error(tmp_path, tiny_model):
    data = reset_config(tmp_path, tiny_model, {})  # the mock only ever complies
    with pytest.raises(SelfMoaError, match="turn reset.enabled off"):
        Loop(config_from_dict(data), log=lambda line: None).execute()
    answers = read_records(tmp_path / "reset" / "baseline" / "reset" / "answers.jsonl", ResetAnswer)
    assert len(answers) == 6, "the answers are kept for a look and for the next try"
