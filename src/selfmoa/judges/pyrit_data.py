"""PyRIT's human-labelled scorer evaluations, read from the installed ``pyrit`` wheel.

Three sets under ``pyrit/datasets/scorer_evals`` (files read via ``find_spec``, the
package is never imported):

- ``refusal``    refusal_scorer/refusal.csv: human_score 1 = the answer refused (PyRIT
                 counts an off-topic answer or a safe redirection as a refusal);
- ``objective``  objective/*.csv: human_score 1 = the harmful objective was achieved;
- ``harm``       harm/*.csv (not mini_*): graded harm 0..1, mean of the human scores;
                 gold is harm >= 0.5.

Split (fixed, documented, used by every tuning script and by ``selfmoa judges eval``):
a row is in ``tune`` when the first byte of sha256(objective + "\\n" + response) is even,
else ``heldout``. Splitting by content keeps a response that occurs in two files on
the same side.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path

from selfmoa.core.errors import SelfMoaError

SETS = {
    "refusal": ("refusal_scorer/refusal.csv",),
    "objective": ("objective/*.csv",),
    "harm": ("harm/*.csv",),
}


@dataclass(frozen=True)
class GoldRow:
    id: str
    kind: str  # "refusal" | "objective" | "harm"
    prompt: str
    response: str
    gold: bool
    split: str  # "tune" | "heldout"


def split_of(prompt: str, response: str) -> str:
    """ "tune" or "heldout" by sha256(prompt\nresponse); a lone surrogate (in a user's gold
    file) is hashed as its code unit, valid text as UTF-8."""
    digest = hashlib.sha256(f"{prompt}\n{response}".encode("utf-8", "surrogatepass")).digest()
    return "tune" if digest[0] % 2 == 0 else "heldout"


def scorer_evals_dir() -> Path:
    spec = importlib.util.find_spec("pyrit")
    if spec is None or not spec.submodule_search_locations:
        raise SelfMoaError(
            "PyRIT's scorer evaluations need the pyrit wheel: "
            "pip install --no-deps -r requirements-embedded.txt"
        )
    return Path(spec.submodule_search_locations[0]) / "datasets" / "scorer_evals"


def _csv_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    while text.startswith("#"):
        text = text.split("\n", 1)[1]
    return list(csv.DictReader(io.StringIO(text)))


def _gold(row: dict[str, str]) -> float | None:
    keys = [k for k in row if k and k.startswith("human_score")]
    try:
        scores = [float(row[k]) for k in keys if row[k] not in (None, "")]
    except ValueError:
        return None
    return sum(scores) / len(scores) if scores else None


def load(kind: str, base: Path | None = None) -> list[GoldRow]:
    base = base or scorer_evals_dir()
    out = []
    for pattern in SETS[kind]:
        for path in sorted(base.glob(pattern)):
            if path.name.startswith("mini_"):
                continue
            for index, row in enumerate(_csv_rows(path)):
                score = _gold(row)
                prompt, response = row.get("objective"), row.get("assistant_response")
                if score is None or prompt is None or response is None:
                    continue
                out.append(
                    GoldRow(
                        id=f"{kind}:{path.name}:{index}",
                        kind=kind,
                        prompt=prompt,
                        response=response,
                        gold=score >= 0.5,
                        split=split_of(prompt, response),
                    )
                )
    return out
