"""The judge stage: a half-judged stage resumes without judging anything twice."""

from __future__ import annotations

from selfmoa.core.chunked import run_chunked
from selfmoa.core.records import Judgement, Prompt, Response
from selfmoa.core.rundir import append_records, read_records
from selfmoa.judges.base import JudgeInput, Verdict
from selfmoa.judges.cache import CachedJudge, CachedScore, JudgeCache
from selfmoa.pipeline.stages.judge import judge_responses


class Counting:
    def __init__(self, name: str) -> None:
        self.name, self.measure, self.seen = name, "refusal", 0

    def judge(self, items: list[JudgeInput]) -> list[Verdict]:
        self.seen += len(items)
        return [Verdict(score=float("sorry" in i.response_text)) for i in items]


def data(n: int) -> tuple[dict[str, Prompt], list[Response]]:
    prompts = {
        f"p{i}": Prompt(
            id=f"p{i}",
            round=0,
            text=f"q{i}",
            label="harmful",
            source="t",
            strategy="direct",
            seed_id="s",
            seed_text="s",
        )
        for i in range(n)
    }
    responses = [
        Response(id=f"r{i}", prompt_id=f"p{i}", text="sorry" if i % 2 else "ok", sample_index=0)
        for i in range(n)
    ]
    return prompts, responses


def judge_all(path, prompts, responses, judges):
    return run_chunked(
        responses,
        4,
        path,
        Judgement,
        lambda chunk, i: judge_responses(prompts, chunk, judges),
        desc="judge",
        job_of=lambda j: j.response_id,
        records_per_job=len(judges),
    )


def test_half_judged_stage_resumes_to_the_same_records(tmp_path):
    prompts, responses = data(10)
    full = judge_all(tmp_path / "full.jsonl", prompts, responses, [Counting("a"), Counting("b")])

    # a kill left chunk 0 whole and chunk 1 with only some of its judgements
    partial = tmp_path / "partial.jsonl"
    append_records(partial, full[:8])  # chunk 0: 4 responses x 2 judges
    append_records(partial, [j for j in full[8:] if j.judge == "a"][:3])
    a, b = Counting("a"), Counting("b")
    resumed = judge_all(partial, prompts, responses, [a, b])
    assert len({j.id for j in resumed}) == len(resumed) == len(full)
    assert sorted(j.model_dump_json() for j in resumed) == sorted(j.model_dump_json() for j in full)
    assert a.seen == b.seen == 6, "chunk 0 is not judged again; chunks 1 and 2 are"


def test_cache_scores_each_answer_once_and_never_caches_errors(tmp_path):
    inner = Counting("kw")
    cache = JudgeCache(tmp_path / "scores.jsonl")
    judge = CachedJudge(inner, cache, "settings")
    items = [JudgeInput("q", "harmful", "sorry"), JudgeInput("q", "harmful", "ok")]
    assert [v.score for v in judge.judge(items)] == [1.0, 0.0]
    again = CachedJudge(Counting("kw"), JudgeCache(tmp_path / "scores.jsonl"), "settings")
    assert [v.score for v in again.judge(items)] == [1.0, 0.0]
    assert again.inner.seen == 0, "a new process reads the scores back"
    other = CachedJudge(Counting("kw"), cache, "other settings")
    other.judge(items)
    assert other.inner.seen == 2, "other judge settings are other keys"

    class Failing:
        name, measure = "bad", "refusal"

        def judge(self, items):
            return [Verdict(error="model failed")] * len(items)

    before = len(cache.scores)
    assert CachedJudge(Failing(), cache, "s").judge(items)[0].error == "model failed"
    assert len(cache.scores) == before == 4, "errors are not cached"
    assert len(read_records(tmp_path / "scores.jsonl", CachedScore)) == 4


def test_refitted_weights_are_not_served_old_scores(tmp_path, monkeypatch):
    """A content judge's fitted numbers join the key: after a refit it scores again."""
    from selfmoa.judges import content

    class Rows:
        def rows(self, pairs):
            return [[0.5] * len(content.FEATURES) for _ in pairs]

    cache = JudgeCache(tmp_path / "scores.jsonl")
    items = [JudgeInput("q", "harmful", "answer")]
    fitted = content.ContentJudge("content-unsafe", "unsafe", Rows())
    first = CachedJudge(fitted, cache, "settings").judge(items)[0].score
    assert CachedJudge(fitted, cache, "settings").judge(items)[0].score == first

    weights = content.load_weights()
    refit = {**weights, "unsafe": {**weights["unsafe"], "intercept": 5.0}}
    monkeypatch.setattr(content, "load_weights", lambda: refit)
    again = content.ContentJudge("content-unsafe", "unsafe", Rows())
    assert again.parameters_digest != fitted.parameters_digest
    expected = round(again.probability([0.5] * len(content.FEATURES)), 4)
    assert expected != first
    assert CachedJudge(again, cache, "settings").judge(items)[0].score == expected
