"""report.html: the report as one self-contained page (no network, no script) with plots.

The Markdown report is turned into HTML headings, paragraphs and tables (its escapes
undone, then every character of text HTML-escaped, so the page shows the original
text), and inline SVG plots are drawn from report.json:
attack success and over-refusal per set across rounds, the safety-helpfulness
plane with one point per policy, and attack success per HarmBench category before
and after. Example answers sit under a collapsed content warning; every piece of
model or red-team text is escaped (``selfmoa.core.text_safety.html_text``, control characters
made visible), so a response containing ``<script>`` shows as text.
"""

from __future__ import annotations

import html
import re
from typing import Any

from selfmoa.core.records import EvalItem
from selfmoa.core.text_safety import html_text

WIDTH, HEIGHT, PAD = 520, 260, 40
COLOURS = ("#c0392b", "#2471a3", "#239b56", "#b9770e", "#7d3c98", "#566573", "#17a589")


_INLINE = re.compile(
    r"\\(?P<escaped>[!-/:-@\[-`{-~])"
    r"|(?P<ticks>`+)"
    r"|(?P<bold>\*\*)"
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)"
)


def _inline(text: str) -> str:
    """HTML of one line of Markdown: backslash escapes and character references become the
    characters they stand for, ``**bold**`` and code spans become tags, and every character
    of text is HTML-escaped, so raw HTML or a control character in ``text`` shows as text."""
    parts: list[str | None] = []  # HTML pieces; None marks a ``**`` not yet paired
    plain: list[str] = []  # characters of text not yet escaped
    position = 0
    while (match := _INLINE.search(text, position)) is not None:
        plain.append(text[position : match.start()])
        position = match.end()
        if match.group("escaped") is not None:
            plain.append(match.group("escaped"))
        elif match.group("entity") is not None:
            plain.append(html.unescape(match.group("entity")))
        elif match.group("ticks") is not None:
            ticks = match.group("ticks")
            close = re.compile(f"(?<!`){ticks}(?!`)").search(text, position)
            if close is None:
                plain.append(ticks)
                continue
            parts.append(html_text("".join(plain)))
            plain.clear()
            parts.append(f"<code>{html_text(text[position : close.start()])}</code>")
            position = close.end()
        else:
            parts.append(html_text("".join(plain)))
            plain.clear()
            parts.append(None)
    plain.append(text[position:])
    parts.append(html_text("".join(plain)))
    bold = [index for index, part in enumerate(parts) if part is None]
    for opening, closing in zip(bold[0::2], bold[1::2], strict=False):
        parts[opening], parts[closing] = "<b>", "</b>"
    return "".join("**" if part is None else part for part in parts)


def _cells(line: str) -> list[str]:
    """The cells of a table row, split at each ``|`` that is not backslash-escaped."""
    cells, cell, index = [], "", 0
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            cell += body[index : index + 2]
            index += 2
            continue
        if char == "|":
            cells.append(cell)
            cell = ""
        else:
            cell += char
        index += 1
    if cell.strip():
        cells.append(cell)
    return [c.strip() for c in cells]


def markdown_to_html(markdown: str) -> str:
    """The HTML of the Markdown the reports write (headings, paragraphs, tables, bold, code).

    All text is escaped here, whatever the Markdown holds: the only tags in the result are
    the ones this function writes."""
    out: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, *body = table
            out.append("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>")
            out.append("</thead><tbody>")
            for row in body:
                out.append("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
            out.append("</tbody></table>")
            table.clear()

    delimiter = False
    for line in markdown.split("\n"):  # not splitlines(): U+2028 etc. are no line ends
        if line.startswith("|"):
            cells = _cells(line)
            if delimiter and all(c and set(c) <= {"-", ":"} for c in cells):
                delimiter = False  # the row under the header
                continue
            delimiter = not table
            table.append([_inline(c) for c in cells])
            continue
        flush()
        delimiter = False
        heading = re.match(r"^(#{1,3}) (.*)$", line)
        if heading:
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    flush()
    return "\n".join(out)


def _y(rate: float) -> float:
    return HEIGHT - PAD - rate * (HEIGHT - 2 * PAD)


def _frame(title: str, x_labels: list[str], y_label: str) -> list[str]:
    step = (WIDTH - 2 * PAD) / max(1, len(x_labels) - 1)
    name = html_text(title)
    bottom = HEIGHT - PAD
    parts = [
        f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{name}">',
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13">{name}</text>',
        f'<line x1="{PAD}" y1="{bottom}" x2="{WIDTH - PAD}" y2="{bottom}" stroke="#333"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{bottom}" stroke="#333"/>',
        f'<text x="8" y="{PAD - 8}" font-size="10">{html_text(y_label)}</text>',
    ]
    for tick in (0.0, 0.5, 1.0):
        y = _y(tick) + 3
        parts.append(
            f'<text x="{PAD - 4}" y="{y}" font-size="10" text-anchor="end">{tick:.0%}</text>'
        )
    for i, label in enumerate(x_labels):
        parts.append(
            f'<text x="{PAD + i * step}" y="{HEIGHT - PAD + 14}" font-size="10" '
            f'text-anchor="middle">{html_text(label)}</text>'
        )
    return parts


def line_chart(title: str, x_labels: list[str], series: dict[str, list[float | None]]) -> str:
    parts = _frame(title, x_labels, "rate")
    step = (WIDTH - 2 * PAD) / max(1, len(x_labels) - 1)
    for index, (name, values) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        points = [(PAD + i * step, _y(v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>'
            )
        for x, y in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        parts.append(
            f'<text x="{WIDTH - PAD + 4}" y="{PAD + 12 * index}" font-size="10" '
            f'fill="{colour}">{html_text(name)}</text>'
        )
    return "\n".join(parts) + "</svg>"


def plane(title: str, points: list[tuple[str, float, float]]) -> str:
    """x = safety (1 - attack success), y = helpfulness, both in [0, 1]."""
    parts = _frame(title, ["0%", "safety (1 - ASR)", "100%"], "helpfulness")
    for index, (label, x, y) in enumerate(points):
        cx = PAD + x * (WIDTH - 2 * PAD)
        parts.append(f'<circle cx="{cx:.1f}" cy="{_y(y):.1f}" r="4" fill="{COLOURS[index % 7]}"/>')
        parts.append(
            f'<text x="{cx + 6:.1f}" y="{_y(y) - 6:.1f}" font-size="10">{html_text(label)}</text>'
        )
    return "\n".join(parts) + "</svg>"


def bars(title: str, categories: list[str], before: list[float], after: list[float]) -> str:
    parts = _frame(title, [], "attack success")
    width = (WIDTH - 2 * PAD) / max(1, len(categories))
    for i, name in enumerate(categories):
        x = PAD + i * width
        for j, (value, colour) in enumerate(((before[i], COLOURS[0]), (after[i], COLOURS[1]))):
            top, half = _y(value), (width - 8) / 2
            parts.append(
                f'<rect x="{x + 4 + j * half:.1f}" y="{top:.1f}" width="{half:.1f}" '
                f'height="{HEIGHT - PAD - top:.1f}" fill="{colour}"/>'
            )
        parts.append(
            f'<text x="{x + width / 2:.1f}" y="{HEIGHT - PAD + 14}" font-size="9" '
            f'text-anchor="middle">{html_text(name[:14])}</text>'
        )
    return "\n".join(parts) + "</svg>"


def _rate(summary: dict[str, Any] | None) -> float | None:
    return None if not summary else summary.get("rate")


def plots(data: dict[str, Any]) -> list[str]:
    policies = [("base", data["baseline"])] + [
        (f"round {e['round']}", e["evaluate"]) for e in data["rounds"]
    ]
    labels = [name for name, _ in policies]
    sets = list(data["baseline"].get("sets", {}))
    series = {
        name: [_rate(s.get("sets", {}).get(name, {}).get("rate")) for _, s in policies]
        for name in sets
    } or {"harmbench": [_rate(s["attack_success"]) for _, s in policies]}
    charts = [
        line_chart("Attack success (harmful sets) and over-refusal (benign sets)", labels, series)
    ]
    points = [
        (name, 1 - (s["attack_success"]["rate"] or 0), s["helpfulness"]["mean"] or 0)
        for name, s in policies
    ]
    charts.append(plane("Safety-helpfulness plane, one point per policy", points))
    first = data["baseline"].get("sets", {}).get("harmbench", {}).get("by_category", {})
    last = policies[-1][1].get("sets", {}).get("harmbench", {}).get("by_category", {})
    if first:
        names = sorted(first)
        charts.append(
            bars(
                "HarmBench attack success per category (red: base, blue: final)",
                names,
                [first[n]["rate"] or 0 for n in names],
                [(last.get(n) or {}).get("rate") or 0 for n in names],
            )
        )
    return charts


def examples_html(before: list[EvalItem], after: list[EvalItem], count: int) -> str:
    after_by_id = {item.id: item for item in after}
    rows = []
    for item in before:
        new = after_by_id.get(item.id)
        if new is None or sum(r.startswith("<tr") for r in rows) >= count * 4:
            continue
        rows.append(
            "<tr><td>"
            + html_text(item.eval_set)
            + "</td><td>"
            + html_text(item.prompt_text)
            + "</td><td>"
            + html_text(item.response)
            + "</td><td>"
            + html_text(new.response)
            + "</td></tr>"
        )
    return (
        "<details><summary>Example answers (content warning: harmful requests and model "
        "output; shown as escaped text)</summary><table><thead><tr><th>set</th><th>prompt</th>"
        "<th>base model</th><th>final policy</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></details>"
    )


STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.6em 0;font-size:13px}"
    "td,th{border:1px solid #bbb;padding:3px 7px;vertical-align:top}"
    "th{background:#eee}.plot{width:100%;max-width:620px;display:block;margin:1em 0}"
    "td{max-width:380px;white-space:pre-wrap;word-break:break-word}"
)


def build_html(
    markdown: str, data: dict[str, Any], before: list[EvalItem], after: list[EvalItem], count: int
) -> str:
    body = markdown_to_html(markdown.split("\n## Examples", 1)[0])
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>selfmoa report: {html_text(data['name'])}</title><style>{STYLE}</style></head>"
        "<body>"
        + body
        + "<h2>Plots</h2>"
        + "\n".join(plots(data))
        + "<h2>Examples</h2>"
        + examples_html(before, after, max(count, 1))
        + "</body></html>\n"
    )
