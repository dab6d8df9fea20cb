"""Hostile model text, names and report files: every report format shows them as literal text.

The report stage runs for real on a hand-built run directory whose model answers, run
name, judge, set, form and benchmark names are hostile; report.md is rendered with a
CommonMark renderer (markdown-it-py) and report.html is parsed, and neither may hold a
tag, link, image, emphasis or control character that came from that text.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from markdown_it import MarkdownIt

from selfmoa.cli.main import main
from selfmoa.core.rundir import RunDir
from selfmoa.core.text_safety import md_text, visible
from selfmoa.pipeline.compare import labels
from selfmoa.pipeline.stages.report import run_report
from selfmoa.pipeline.stages.report_html import markdown_to_html

HOSTILE = [
    "<script>alert(1)</script>",
    "![x](https://example.invalid/p.png?q=1)",
    "[link](http://evil.invalid)",
    "*em* _em_ **b** `code`",
    "# heading",
    "<http://evil.invalid>",
    "| a | b |",
    "\x1b]0;pwned\x07",
    "\x1b[2J",
    "\x00",
    "\ud83d",
    "www.evil.invalid ~~gone~~ $x$ &amp; &#60;b&#62; \\*",
    "line one\n# heading\n- item\n1. item\n---\n```\ncode\n```\n<img src=x onerror=alert(1)>",
]
NAME = "<img src=x onerror=alert(1)> ![n](https://example.invalid/n.png) *n* \x1b[2J"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table",
             "thead", "tbody", "tr", "th", "td", "b", "code", "details", "summary", "svg",
             "text", "line", "polyline", "circle", "rect"}  # fmt: skip


class Page(HTMLParser):
    """Start tags, attributes and text of an HTML document."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attributes: set[str] = set()
        self.texts: dict[str, list[str]] = {}
        self.open: list[str] = []
        self.text = ""
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes |= {name for name, _ in attrs}
        if tag not in {"meta", "line", "circle", "rect"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        self.text += data
        if self.open:
            self.texts.setdefault(self.open[-1], []).append(data)


def flat(text: str) -> str:
    """How a report line shows model text: control characters visible, on one line."""
    return " ".join(visible(text).split())


def rate(value: float) -> dict[str, Any]:
    return {"rate": value, "n": 10, "ci_low": 0.0, "ci_high": 1.0}


def summary(name: str, value: float) -> dict[str, Any]:
    by_form = {name: rate(value)}
    harmful = {
        "label": "harmful",
        "measure": "attack_success",
        "rate": rate(value),
        "by_category": {name: rate(value)},
        "by_form": by_form,
        "refusal_by_form": by_form,
    }
    benign = {**harmful, "label": "benign", "measure": "over_refusal"}  # fmt: skip
    return {
        "attack_success": rate(value),
        "over_refusal": rate(0.1),
        "helpfulness": {"mean": 0.5, "n": 10},
        "attack_success_by_judge": {"refusal-keywords": rate(value), name: rate(value)},
        "sets": {"harmbench": harmful, name: benign, "attacked": {**harmful, "by_form": by_form}},
        "removed_near_duplicates": {name: 1},
        "degenerate": rate(0.0),
    }


def item(number: int, eval_set: str, text: str, after: bool) -> dict[str, Any]:
    return {"id": f"{eval_set}-{number}", "eval_set": eval_set, "label": "harmful",
            "form": text, "prompt_text": text, "category": text,
            "response": ("after: " if after else "") + text, "refused": after,
            "unsafe": not after, "helpfulness": 0.5}  # fmt: skip


def write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))  # ensure_ascii: lone surrogates travel as \ud83d


def build_run(run: Path, texts: list[str], name: str) -> tuple[str, str]:
    """A run directory with a baseline and one finished round; returns (report.md, .html)."""
    capability = {"accuracy": {name: {"n": 5, "acc": 0.5, "acc_norm": 0.5,
                                      "acc_norm_ci": [0.1, 0.9]}},
                  "drift": {"kl_per_token": 0.1, "base_perplexity": 3.0}}  # fmt: skip
    counts = {
        "redteam": {"harmful_kept": 1, "harmful_written": 2, "benign": 1},
        "sample": {"responses": 2},
        "pairs": {"pairs": 3, "safety": 2, name: 1},
        "train": {"steps": 1, "last_epoch_loss": 0.5, "last_epoch_reward_accuracy": 0.5},
    }
    for stage in ("redteam", "sample", "judge", "archive", "pairs", "train", "evaluate",
                  "capability"):  # fmt: skip
        write(run / "round_00" / stage / "manifest.json", {"counts": counts.get(stage, {})})
    groups = {key: {name: rate(0.5)} for key in ("by_origin", "by_form", "by_category",
              "compliance_by_origin", "benign_over_refusal_by_form")}  # fmt: skip
    write(run / "round_00" / "archive" / "metrics.json", {
        **groups, "rejected": {name: 1}, "kept": 1, "written": 2,
        "diversity": {"mean_pairwise_distance": 0.5, "distinct_2": 0.5},
        "intent_preservation": {"mean_seed_similarity": 0.5},
    })  # fmt: skip
    write(run / "agreement" / "agreement.json", [
        {"split": "heldout", "set": name, "target": name, "judge": name, "n": 3,
         "accuracy": 0.5, "accuracy_low": 0.1, "accuracy_high": 0.9, "kappa": 0.0}
    ])  # fmt: skip
    summary_row = {"n": 3.0, **{f"{m}{end}": 0.5 for m in ("accuracy", "f1", "kappa")
                                for end in ("", "_low", "_high")}}  # fmt: skip
    write(run / "agreement" / "by_source.json", {name: {
        "sources": [{"name": name, "positives": 20, "binding": True, "rows": 3}],
        "figures": [{"candidate": "verdict", "source": name, "mode": "as shipped",
                     "binding": True, "positives": 2, "abstained": 0, "threshold": 0.5,
                     "summary": summary_row}],
        "ranking": [{"candidate": name, "mode": "loso", "worst_source": name,
                     "worst_kappa": 0.5, "worst_accuracy": 0.5, "mean_kappa": 0.5}],
    }})  # fmt: skip
    for folder, value, after in ((run / "baseline", 0.9, False), (run / "round_00", 0.2, True)):
        write(folder / "evaluate" / "manifest.json", {"counts": {}})
        write(folder / "evaluate" / "summary.json", summary(name, value))
        write(folder / "capability" / "summary.json", capability)
        rows = [item(i, s, t, after) for s in ("harmbench", "benign_heldout")
                for i, t in enumerate(texts)]  # fmt: skip
        (folder / "evaluate" / "items.jsonl").write_text(
            "".join(json.dumps(row) + "\n" for row in rows)
        )
    config = SimpleNamespace(
        name=name,
        rounds=1,
        evaluate=SimpleNamespace(examples_in_report=len(texts)),
        judge=SimpleNamespace(evaluation_judges=["refusal-keywords", "content-unsafe"]),
        reset=SimpleNamespace(enabled=False),
    )
    ctx = SimpleNamespace(
        run=RunDir(run),
        config=config,
        stage=SimpleNamespace(file=lambda file: run / "report" / file),
        folder=lambda stage, r: run / f"round_{r:02d}" / stage,
    )
    assert run_report(ctx) == {"rounds_reported": 1}  # type: ignore[arg-type]
    report = run / "report"
    # strict UTF-8: a lone surrogate cannot be in a file that decodes
    return (report / "report.md").read_bytes().decode(), (
        report / "report.html"
    ).read_bytes().decode()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return build_run(tmp_path_factory.mktemp("hostile"), HOSTILE, NAME)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return build_run(tmp_path_factory.mktemp("plain"), ["plain"] * len(HOSTILE), "plain")


def render(markdown: str) -> Page:
    """report.md as a CommonMark viewer (with GFM tables and strikethrough) shows it."""
    return Page(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown))


def test_report_md_has_no_control_characters(hostile):
    markdown, _ = hostile
    assert not CONTROL.search(markdown), "a terminal would replay these (cat report.md)"
    assert "\\\\x1b\\]0\\;pwned\\\\x07" in markdown, "shown visibly instead"


def test_report_md_renders_model_text_and_names_as_literal_text(hostile, plain):
    shown, baseline = render(hostile[0]), render(plain[0])
    assert "![" not in hostile[0] and "](" not in hostile[0] and "<http" not in hostile[0]
    assert shown.tags == baseline.tags, "hostile text added or removed Markdown structure"
    for tag in ("img", "a", "em", "script", "del", "s", "pre", "ol", "h4"):
        assert shown.tags[tag] == 0, tag
    assert {"src", "href", "onerror"}.isdisjoint(shown.attributes)
    for text in HOSTILE:
        assert flat(text) in shown.text, text
    assert f"selfmoa report: {flat(NAME)}" in shown.texts["h1"]
    assert flat(NAME) in "".join(shown.texts["td"]), "judge, set, form names in tables"


def test_report_html_shows_the_original_text_and_no_injected_tags(hostile):
    _, document = hostile
    page = Page(document)
    assert set(page.tags) <= PAGE_TAGS, set(page.tags) - PAGE_TAGS
    assert not CONTROL.search(document)
    assert page.tags["h1"] == 1 and page.tags["title"] == 1
    assert not any(name.startswith("on") or name in {"src", "href"} for name in page.attributes)
    assert page.texts["title"] == [f"selfmoa report: {visible(NAME)}"]
    assert page.texts["h1"] == [f"selfmoa report: {flat(NAME)}"]
    for text in HOSTILE:
        assert visible(text) in page.text, text  # the examples: whole, newlines kept
        assert "after: " + visible(text) in page.text
    assert flat(NAME) in "".join(page.texts["td"]) + "".join(page.texts["th"])
    assert visible(NAME) in "".join(page.texts["text"]), "plot labels (set names)"


@pytest.mark.parametrize("text", HOSTILE + [NAME, "a_b __c__ d_ \\ \\\\ `` ` ``"])
def test_markdown_to_html_undoes_the_markdown_escapes_exactly(text):
    for markdown in (f"# {md_text(text)}", f"{md_text(text)}", f"| {md_text(text)} |"):
        page = Page(markdown_to_html(markdown))
        assert set(page.tags) <= PAGE_TAGS - {"code", "b"}, markdown
        shown = visible(text).replace("\n", " ").replace("\t", " ").strip()
        assert page.text.replace("\n", "") == shown, markdown


def test_visible_leaves_no_control_character_or_surrogate():
    text = "".join(map(chr, range(0xA0))) + "\ud83d\udfff\u202e"
    shown = visible(text)
    assert not CONTROL.search(shown.replace("\n", "").replace("\t", ""))
    assert "\n" in shown and "\t" in shown and "\\x1b" in shown and "\\ud83d" in shown
    shown.encode("utf-8")  # no lone surrogate left


def report_json(run: Path, data: Any) -> Path:
    path = run / "report" / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


def valid(name: str = "harmbench") -> dict[str, Any]:
    return {"name": "x", "baseline": summary(name, 0.5), "rounds": []}


def test_compare_keys_runs_by_path_and_labels_them_apart(tmp_path, capsys):
    for group in ("cmpA", "cmpB"):
        report_json(tmp_path / group / "demo", valid())
    first, second = str(tmp_path / "cmpA" / "demo"), str(tmp_path / "cmpB" / "demo")
    assert main(["compare", first, second, f"{first}/../demo"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "| 0 |" in line]
    assert len(rows) == 2, "one row per run path (the same run given twice: one row)"
    assert rows[0].startswith("| cmpA/demo | 0 |") and rows[1].startswith("| cmpB/demo | 0 |")
    assert labels([Path("/r/a/x"), Path("/r/b/x"), Path("/r/y")]) == ["a/x", "b/x", "r/y"]
    assert labels([Path("/x"), Path("/r/x")]) == ["/x", "r/x"]


def test_compare_shows_hostile_names_and_folders_as_text(tmp_path, capsys):
    run = tmp_path / "demo\x1b[2J"
    report_json(run, valid(NAME))
    page = tmp_path / "compare.html"
    assert main(["compare", str(run), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert not CONTROL.search(out) and "![n](" not in out and "<img" not in out
    assert render(out).tags["img"] == 0 and render(out).tags["em"] == 0
    parsed = Page(page.read_text())
    assert set(parsed.tags) <= PAGE_TAGS and "src" not in parsed.attributes
    assert flat(NAME) in parsed.texts["th"] and "demo\\x1b[2J" in parsed.texts["td"]


BROKEN = {
    "object": b"{}",
    "array": b"[]",
    "empty": b"",
    "not-json": b"report",
    "not-utf8": b'{"name": "\xff\xfe"}',
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "wrong-types": json.dumps({"baseline": [], "rounds": {}}).encode(),
    "round-not-object": json.dumps({"baseline": {}, "rounds": ["x"]}).encode(),
    "rate-text": json.dumps(
        {
            "baseline": {**summary("s", 0.5), "attack_success": {**rate(0.5), "rate": "x"}},
            "rounds": [],
        }  # fmt: skip
    ).encode(),
    "mean-text": json.dumps(
        {"baseline": {**summary("s", 0.5), "helpfulness": {"mean": "<b>"}}, "rounds": []}
    ).encode(),
    "sets-list": json.dumps({"baseline": {**summary("s", 0.5), "sets": []}, "rounds": []}).encode(),
}


@pytest.mark.parametrize("content", list(BROKEN.values()), ids=list(BROKEN))
def test_compare_on_a_broken_report_is_one_error_line(tmp_path, capsys, content):
    report_json(tmp_path / "good", valid())
    path = report_json(tmp_path / "bad", content)
    assert main(["compare", str(tmp_path / "good"), str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("selfmoa: error: "), err
    assert str(path) in err and f"selfmoa report {tmp_path / 'bad'}" in err, err


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_compare_without_a_report_file_names_it(tmp_path, capsys, kind):
    if kind == "folder":
        (tmp_path / "run" / "report" / "report.json").mkdir(parents=True)
    assert main(["compare", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("selfmoa: error: ")
    assert str(tmp_path / "run" / "report" / "report.json") in err and "selfmoa report" in err


def test_compare_html_into_a_missing_folder_or_onto_a_folder_is_one_error_line(tmp_path, capsys):
    report_json(tmp_path / "run", valid())
    missing = tmp_path / "nowhere" / "page.html"
    assert main(["compare", str(tmp_path / "run"), "--html", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing.parent) in err and "create it" in err
    assert not missing.parent.exists(), "no folder made on the way"
    assert main(["compare", str(tmp_path / "run"), "--html", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err and "compare.html" in err


def test_the_per_source_judge_table_is_in_the_report_with_its_names_escaped(hostile):
    markdown, _ = hostile
    section = markdown.split("### The verdicts on each source of human labels", 1)
    assert len(section) == 2, "the report shows the verdicts per source"
    assert "<img" not in section[1] and "| yes | 3 | 2 | 0.50 [0.50, 0.50]" in section[1]


def test_a_damaged_per_source_table_is_one_line_that_names_the_file(tmp_path):
    from selfmoa.core.errors import SelfMoaError
    from selfmoa.pipeline.stages.report import _by_source_lines

    for damaged in ({"unsafe": {"figures": [{"candidate": "verdict"}]}}, {"unsafe": "x"}):
        with pytest.raises(SelfMoaError, match="by_source.json is damaged"):
            _by_source_lines(damaged, tmp_path / "agreement")
