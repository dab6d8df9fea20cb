import pytest
from pydantic import ValidationError

from factories import make_prompt
from selfmoa.core.records import Judgement, Response
from selfmoa.core.rundir import append_records, read_records, write_records


def make_response(index: int) -> Response:
    return Response(id=f"p-s{index}", prompt_id="p", text=f"answer {index}", sample_index=index)


def test_records_round_trip(tmp_path):
    path = tmp_path / "responses.jsonl"
    write_records(path, [make_response(0), make_response(1)])
    assert read_records(path, Response) == [make_response(0), make_response(1)]


def test_unknown_field_is_rejected():
    with pytest.raises(ValidationError):
        Response(id="x", prompt_id="p", text="t", sample_index=0, surprise=1)


def test_torn_last_line_is_ignored_and_cut_before_append(tmp_path):
    path = tmp_path / "responses.jsonl"
    append_records(path, [make_response(0)])
    with open(path, "a") as handle:
        handle.write('{"id": "p-s1", "prompt_id": "p", "te')  # killed mid-write
    assert [r.id for r in read_records(path, Response)] == ["p-s0"]
    append_records(path, [make_response(1)])
    assert [r.id for r in read_records(path, Response)] == ["p-s0", "p-s1"]
    assert path.read_text().count("\n") == 2


def test_duplicate_ids_keep_the_first(tmp_path):
    path = tmp_path / "r.jsonl"
    append_records(path, [make_response(0)])
    append_records(path, [make_response(0).model_copy(update={"text": "later"})])
    assert [r.text for r in read_records(path, Response)] == ["answer 0"]


def test_prompt_defaults_and_judgement_error():
    prompt = make_prompt("a", label="benign", strategy="benign")
    assert prompt.kept and prompt.filter_reason is None
    failed = Judgement(
        id="j", response_id="r", prompt_id="p", judge="x", measure="refusal", error="boom"
    )
    assert failed.score is None
