"""Generated hostile input (hypothesis) at every entry point that reads what a user hands over.

Config overrides go to ``selfmoa validate``; JSONL lines (valid, truncated, wrong types,
invalid UTF-8, control characters, huge strings) go to ``selfmoa judges score`` and
``selfmoa train --pairs``; model texts (markup, Markdown, terminal escapes, surrogates) go
through the report writers. Every call must end with exit 0, or with exit 2 and exactly
one ``selfmoa: error:`` line; never a traceback or an internal error; no file outside the
sandbox the command was given may change; and report.md and report.html must show every
model text literally. Example counts are kept small so the whole file runs in about a
minute on 2 cores; ``SELFMOA_HYPOTHESIS_EXAMPLES`` raises them for a longer hunt.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from selfmoa.cli.main import main
from selfmoa.core.text_safety import visible
from test_bad_inputs import DEFAULT
from test_report_hostile_text import Page, build_run, flat, render

SCALE = int(os.environ.get("SELFMOA_HYPOTHESIS_EXAMPLES", "1"))
FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def examples(count: int) -> settings:
    return settings(
        max_examples=count * SCALE, deadline=None, suppress_health_check=FIXTURES, database=None
    )


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under ``folder``."""
    return {
        str(p): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() or p.is_symlink()
    }


def call(argv: list[str]) -> tuple[int, str]:
    """Run the CLI in process; returns (exit code, stderr)."""
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def assert_clean_exit(code: int, err: str) -> None:
    event(f"exit {code}")
    assert "Traceback" not in err, err
    if code == 0:
        return
    lines = [x for x in err.replace("\r", "\n").splitlines() if x.startswith("selfmoa")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("selfmoa: error: "), (code, err)


# Text that breaks parsers and renderers: markup, Markdown, escapes, surrogates, sizes.
HOSTILE_PIECES = [
    "<script>alert(1)</script>",
    "![x](https://example.invalid/p.png)",
    "[a](javascript:alert(1))",
    "*em* _u_ `c` # h | t |",
    "\x1b]0;title\x07",
    "\x1b[2J",
    "\x00",
    "\ud83d",
    "\u202e",
    "{{ x }}",
    "${HOME}",
    "../../etc/passwd",
    "\r\n",
]
model_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(max_size=8), max_size=6).map("".join),
)

# --- config overrides -------------------------------------------------------------------

KEYS = [
    "name", "output_dir", "rounds", "seed", "models.policy", "models.device", "backend.kind",
    "backend.batch_size", "redteam.seeds_per_round", "redteam.strategies", "redteam.forms",
    "sample.max_new_tokens", "sample.temperature", "judge.evaluation_judges",
    "judge.models", "train.learning_rate", "train.objective_weights", "train.loss",
    "evaluate.sets", "pairs.extra_objectives", "nosuch", "train", "backend.mock_script",
]  # fmt: skip
yaml_values = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from([".nan", ".inf", "-.inf", "~", "[]", "{}", "[[[[[[]]]]]]", "null", "''"]),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=200_000).map(lambda n: "x" * n),
    model_text,
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
        max_leaves=8,
    ).map(lambda value: json.dumps(value)),
)


@examples(60)
@given(st.lists(st.tuples(st.sampled_from(KEYS), yaml_values), min_size=1, max_size=3))
def test_validate_answers_any_override_in_one_line(tmp_path, overrides):
    before = snapshot(tmp_path)
    argv = ["validate", DEFAULT, f"output_dir={tmp_path}/runs"]
    argv += [f"{key}={value}" for key, value in overrides]
    assert_clean_exit(*call(argv))
    assert snapshot(tmp_path) == before, "validate wrote a file"


# --- JSONL files: judges score and train --pairs ----------------------------------------


def valid_line(fields: list[str]) -> st.SearchStrategy[bytes]:
    """A row every field of which is non-blank (possibly hostile) text."""
    row = st.fixed_dictionaries({name: model_text.filter(str.strip) for name in fields})
    return row.map(lambda r: json.dumps(r).encode())


def jsonl_line(fields: list[str]) -> st.SearchStrategy[bytes]:
    """One line of a JSONL file: a valid row, a row of wrong types, or broken bytes."""
    value = st.one_of(
        model_text,
        st.integers(),
        st.none(),
        st.lists(st.integers(), max_size=2),
        st.integers(min_value=100_000, max_value=2_000_000).map(lambda n: "y" * n),
    )
    row = st.fixed_dictionaries({name: value for name in fields}, optional={"extra": value})
    as_bytes = row.map(lambda r: json.dumps(r).encode()) | valid_line(fields)
    broken = st.one_of(
        as_bytes.map(lambda b: b[: max(1, len(b) // 2)]),  # truncated
        as_bytes.map(lambda b: b.replace(b"\\u", b"\xff\xfe", 1)),  # invalid UTF-8
        st.binary(max_size=30),
        st.sampled_from([b"[]", b"1", b'"s"', b"null", b"{", b"\x00"]),
    )
    return as_bytes | broken


def write_jsonl(path: Path, lines: list[bytes], newline_at_end: bool) -> None:
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    path.write_bytes(data + (b"\n" if newline_at_end else b""))


@pytest.fixture(scope="module")
def keyword_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default config with the model-free judges only, so an example takes milliseconds
    (tests/test_hostile_judge_train_export.py covers the model-backed judges row by row)."""
    data = yaml.safe_load(Path(DEFAULT).read_text())
    data["judge"] = {"evaluation_judges": ["refusal-keywords"]}
    path = tmp_path_factory.mktemp("config") / "keywords.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@examples(40)
@given(
    lines=st.lists(jsonl_line(["id", "prompt", "response"]), min_size=0, max_size=5),
    newline_at_end=st.booleans(),
)
def test_judges_score_answers_any_jsonl_in_one_line(
    tmp_path, keyword_config, lines, newline_at_end
):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir(exist_ok=True)
    source = sandbox / "in.jsonl"
    write_jsonl(source, lines, newline_at_end)
    output = sandbox / "out.jsonl"
    output.unlink(missing_ok=True)
    before = {k: v for k, v in snapshot(tmp_path).items() if k != str(output)}
    code, err = call(["judges", "score", str(source), "--config", str(keyword_config),
                      "--output", str(output)])  # fmt: skip
    assert_clean_exit(code, err)
    after = {k: v for k, v in snapshot(tmp_path).items() if k != str(output)}
    assert after == before, "judges score touched a file other than its output"
    if code == 0 and output.exists():
        for line in output.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)  # a judge either scored the row in [0, 1] or errored
            assert all(0 <= score <= 1 for score in row["scores"].values()), row
            assert row["scores"] or row["errors"], row


@pytest.fixture(scope="module")
def train_config(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    data = yaml.safe_load(Path(DEFAULT).read_text())
    data["models"] = {"policy": str(tiny_model), "attacker": str(tiny_model)}
    data["train"] = {"epochs": 1, "pairs_per_step": 2, "max_prompt_tokens": 16,
                     "max_response_tokens": 8, "lora_r": 2}  # fmt: skip
    path = tmp_path_factory.mktemp("config") / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


PAIR_FIELDS = ["prompt", "chosen", "rejected"]


@examples(12)
@given(
    lines=st.lists(valid_line(PAIR_FIELDS), min_size=1, max_size=3)
    | st.lists(jsonl_line(PAIR_FIELDS), min_size=0, max_size=3),
    newline_at_end=st.booleans(),
)
def test_train_pairs_answers_any_jsonl_in_one_line(tmp_path, train_config, lines, newline_at_end):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir(exist_ok=True)
    source = sandbox / "pairs.jsonl"
    write_jsonl(source, lines, newline_at_end)
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
    before = snapshot(sandbox)
    code, err = call(["train", str(train_config), "--pairs", str(source), "--out", str(out)])
    assert_clean_exit(code, err)
    assert snapshot(sandbox) == before, "train touched a file outside its --out folder"


# --- the report writers -----------------------------------------------------------------


_PLAIN_TAGS: dict[int, tuple] = {}


def plain_tags(tmp_path_factory: pytest.TempPathFactory, count: int) -> tuple:
    """Tag counts of the same report with ``count`` plain texts: the report's own markup."""
    if count not in _PLAIN_TAGS:
        markdown, document = build_run(tmp_path_factory.mktemp("plain"), ["plain"] * count, "p")
        _PLAIN_TAGS[count] = (render(markdown).tags, Page(document).tags)
    return _PLAIN_TAGS[count]


@examples(10)
@given(texts=st.lists(model_text.filter(lambda t: t.strip()), min_size=1, max_size=3))
def test_reports_show_any_model_text_literally(tmp_path_factory, texts):
    markdown, document = build_run(tmp_path_factory.mktemp("report"), texts, "property")
    shown, page = render(markdown), Page(document)
    assert (shown.tags, page.tags) == plain_tags(tmp_path_factory, len(texts)), "markup added"
    assert not any(name.startswith("on") or name in ("src", "href") for name in page.attributes)
    for text in texts:
        assert flat(text) in " ".join(shown.text.split()), text
        assert visible(text) in page.text, text
