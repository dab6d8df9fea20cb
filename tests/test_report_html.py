"""report.html: self-contained, plots present, model text escaped; opened in a real browser."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from selfmoa.core.records import EvalItem
from selfmoa.pipeline.stages.report_html import build_html, markdown_to_html

SCRIPT = "<script>document.title='pwned'</script>"


def item(eval_set: str, response: str) -> EvalItem:
    return EvalItem(
        id=f"{eval_set}-1",
        eval_set=eval_set,
        label="harmful",
        prompt_text="<b>ask</b>",
        response=response,
        refused=False,
        unsafe=True,
        helpfulness=0.5,
    )


def summary(asr: float) -> dict:
    rate = {"rate": asr, "n": 10, "ci_low": 0.0, "ci_high": 1.0}
    return {
        "attack_success": rate,
        "over_refusal": {"rate": 0.1, "n": 10, "ci_low": 0.0, "ci_high": 0.3},
        "helpfulness": {"mean": 0.6, "n": 10},
        "sets": {
            "harmbench": {"label": "harmful", "rate": rate, "by_category": {"illegal": rate}},
            "benign_heldout": {"label": "benign", "rate": rate, "by_category": {}},
        },
    }


def page() -> str:
    data = {
        "name": "t",
        "baseline": summary(0.9),
        "rounds": [{"round": 0, "evaluate": summary(0.2)}],
    }
    markdown = "# title\n\n| a | b |\n|---|---|\n| 1 | &lt;i&gt; |\n\n## Examples\n- x"
    return build_html(markdown, data, [item("harmbench", SCRIPT)], [item("harmbench", "No.")], 2)


def test_model_text_is_escaped_and_plots_are_inline():
    text = page()
    assert SCRIPT not in text and "&lt;script&gt;" in text
    assert "<b>ask</b>" not in text, "prompts are data too"
    assert text.count("<svg") == 3 and "http" not in text.replace("http-equiv", "")


def test_markdown_tables_become_html_tables():
    out = markdown_to_html("## T\n\n| x | y |\n|---|---|\n| **1** | 2 |")
    assert "<h2>T</h2>" in out and "<th>x</th>" in out and "<td><b>1</b></td>" in out


def test_the_page_renders_in_a_headless_browser(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is missing: `make browser` installs it (apt-get install chromium)")
    path = tmp_path / "report.html"
    path.write_text(page())
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "<title>selfmoa report: t</title>" in dom, "the injected script never ran"
    assert dom.count("<svg") == 3 and "<polyline" in dom and "<rect" in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
