"""report.json as a typed, versioned record: what the report stage writes and what
``selfmoa compare`` and ``selfmoa sweep`` read.

``ReportRecord`` holds the run's name, the base model's evaluation (with its capability),
the untouched reference policy's evaluation (when a safety reset made the base model),
one entry per finished round (its stages' counts, evaluation, capability and red-team
metrics), the change in attack success and over-refusal, the paired change per set and
the judges' agreement with human labels.

Every class keeps the fields it does not declare (``extra="allow"``) and a record is
written with only the fields it was given (``exclude_unset``), so a report.json reads
back and writes out with the same keys and values. Numbers are strict: ``0`` stays ``0``
and ``0.5`` never comes from the text ``"0.5"``.

``schema_version`` starts at 1, the content report.json had before it carried a version;
a file without it reads as version 1. A damaged file, a missing or mistyped key, or a
file from a newer schema is one ``SelfMoaError`` line that names the file and says how
to rebuild it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, PlainValidator, StrictInt, StrictStr, ValidationError

from selfmoa.core.atomic import atomic_write_json
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.rundir import read_json
from selfmoa.core.text_safety import visible

REPORT_SCHEMA_VERSION = 1


def _number(value: Any) -> int | float:
    """A JSON number as it is (an int stays an int); text, booleans and the rest refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, found {type(value).__name__}")
    return value


Number = Annotated[int | float, PlainValidator(_number)]
Counts = dict[str, Any]  # a stage manifest's counts that the report does not read


class Part(BaseModel):
    """Base of every part of the record: undeclared fields are kept as they are."""

    model_config = ConfigDict(extra="allow")


class Rate(Part):
    """A share with its Wilson 95% interval (``selfmoa.core.stats.rate_summary``)."""

    rate: Number | None
    n: StrictInt
    ci_low: Number | None
    ci_high: Number | None


class MeanScore(Part):
    """A mean judge score and how many answers it averages (None: no judge could score)."""

    mean: Number | None
    n: StrictInt | None = None


class SetSummary(Part):
    """One evaluation set: its rate, and the rates per harm category and phrasing form."""

    label: StrictStr
    measure: StrictStr
    rate: Rate | None
    refusal: Rate | None = None
    by_category: dict[str, Rate] = {}
    by_form: dict[str, Rate]
    refusal_by_form: dict[str, Rate]
    degenerate: Rate | None = None
    distinct_2: Number | None = None
    helpfulness: MeanScore | None = None


class BenchmarkAccuracy(Part):
    """Multiple-choice accuracy on one capability benchmark."""

    n: StrictInt
    acc: Number
    acc_norm: Number
    acc_norm_ci: list[Number | None] | None = None


class Drift(Part):
    """Per-token KL from the base model and the base model's perplexity of the answers."""

    kl_per_token: Number | None = None
    base_perplexity: Number | None = None


class CapabilitySummary(Part):
    """A capability stage's summary.json."""

    accuracy: dict[str, BenchmarkAccuracy] = {}
    drift: Drift = Drift()


class PolicySummary(Part):
    """An evaluate stage's summary.json: the headline figures and the per-set tables."""

    attack_success: Rate
    over_refusal: Rate
    helpfulness: MeanScore
    sets: dict[str, SetSummary] = {}
    degenerate: Rate | None = None
    removed_near_duplicates: dict[str, StrictInt] = {}
    judge_errors: StrictInt | None = None
    attack_success_by_judge: dict[str, Rate] = {}


class BaselineSummary(PolicySummary):
    """The base model's evaluation, with its capability summary (None: none measured)."""

    capability: CapabilitySummary | None = None


class RedteamCounts(Part):
    harmful_written: StrictInt
    harmful_kept: StrictInt
    benign: StrictInt


class SampleCounts(Part):
    responses: StrictInt


class PairCounts(Part):
    """Pairs built, and (as further fields) pairs per objective."""

    pairs: StrictInt


class TrainCounts(Part):
    """Training steps and statistics: the last step's and the last epoch's means."""

    steps: StrictInt | None = None
    pairs: StrictInt | None = None


class RetestCounts(Part):
    retested: StrictInt
    still_unsafe: StrictInt


class Diversity(Part):
    mean_pairwise_distance: Number | None = None
    distinct_2: Number | None = None


class IntentPreservation(Part):
    mean_seed_similarity: Number | None = None


Groups = dict[str, Rate]


class RedteamMetrics(Part):
    """The archive stage's metrics.json: the round's attacks judged by the evaluation judges,
    per group (origin, mutation, strategy, form, category), attack success and compliance."""

    attack_success: Rate | None = None
    compliance: Rate | None = None
    by_origin: Groups = {}
    by_mutation: Groups = {}
    by_strategy: Groups = {}
    by_form: Groups = {}
    by_category: Groups = {}
    compliance_by_origin: Groups = {}
    compliance_by_mutation: Groups = {}
    compliance_by_strategy: Groups = {}
    compliance_by_form: Groups = {}
    compliance_by_category: Groups = {}
    benign_over_refusal_by_form: Groups = {}
    written: StrictInt
    kept: StrictInt
    rejected: dict[str, StrictInt]
    diversity: Diversity
    intent_preservation: IntentPreservation


class RoundEntry(Part):
    """One finished round: its stages' manifest counts and the policy after it."""

    round: StrictInt
    redteam: RedteamCounts
    sample: SampleCounts
    judge: Counts
    archive: Counts
    pairs: PairCounts
    train: TrainCounts
    evaluate: PolicySummary
    capability: CapabilitySummary | None
    retest: RetestCounts | None = None
    redteam_metrics: RedteamMetrics | None = None


class Change(Part):
    """Final policy against a starting point, in percentage points."""

    attack_success_points: Number
    over_refusal_points: Number


class PairedChange(Part):
    """Paired before/after change on one set (``selfmoa.core.stats.paired_difference``)."""

    change: Number | None
    n: StrictInt
    ci_low: Number | None
    ci_high: Number | None


class AgreementRow(Part):
    """One judge against one labelled set's human labels (the agreement stage)."""

    split: StrictStr
    set: StrictStr
    target: StrictStr
    judge: StrictStr
    n: Number
    accuracy: Number | None
    accuracy_low: Number | None = None
    accuracy_high: Number | None = None
    kappa: Number | None = None


class ReportRecord(Part):
    """report.json: everything a run's report shows, in one versioned record."""

    schema_version: StrictInt = REPORT_SCHEMA_VERSION
    name: StrictStr
    baseline: BaselineSummary
    reference: PolicySummary | None = None
    rounds: list[RoundEntry]
    change: Change | None = None
    change_from_reference: Change | None = None
    paired_change: dict[str, PairedChange] = {}
    agreement: list[AgreementRow] | None = None
    # target -> {"sources", "figures", "ranking"}: selfmoa.judges.source_eval
    agreement_by_source: dict[str, dict[str, Any]] | None = None

    @property
    def final(self) -> PolicySummary:
        """The evaluation of the last round's policy; the base model's before any round."""
        return self.rounds[-1].evaluate if self.rounds else self.baseline

    def to_json(self) -> dict[str, Any]:
        """The JSON object: ``schema_version`` first, then the fields it was built from."""
        data = self.model_dump(exclude_unset=True, exclude={"schema_version"})
        return {"schema_version": self.schema_version, **data}

    def write(self, path: Path) -> None:
        atomic_write_json(path, self.to_json())

    @classmethod
    def from_data(cls, data: dict[str, Any], source: str = "the report stage") -> ReportRecord:
        """Validate report data built in memory; a mismatch is a bug, named in one line."""
        return _validated(cls, data, f"{source} built a report.json that does not validate")

    @classmethod
    def load(cls, path: Path) -> ReportRecord:
        """Read ``RUN_DIR/report/report.json``; anything unreadable is one error line."""
        again = f"rebuild it with `selfmoa report {visible(str(path.parent.parent))}`"
        shown = visible(str(path))
        if not path.is_file():
            raise SelfMoaError(f"{shown} is missing or not a file; {again}")
        try:
            data = read_json(path)  # unreadable, not UTF-8, not JSON, nested too deeply
        except SelfMoaError as error:
            raise SelfMoaError(f"{visible(str(error))}; {again}") from None
        if not isinstance(data, dict):
            raise SelfMoaError(
                f"{shown} is not a selfmoa report (it holds a JSON {type(data).__name__}); {again}"
            )
        version = data.get("schema_version", REPORT_SCHEMA_VERSION)
        if isinstance(version, int) and version > REPORT_SCHEMA_VERSION:
            raise SelfMoaError(
                f"{shown} has report schema version {version}, newer than this selfmoa reads "
                f"({REPORT_SCHEMA_VERSION}); update selfmoa, or {again}"
            )
        return _validated(cls, data, f"{shown} is not a selfmoa report", again)


ModelT = TypeVar("ModelT", bound=BaseModel)


def _validated(kind: type[ModelT], data: Any, what: str, advice: str = "") -> ModelT:
    """``kind`` from ``data``, or one error line: the first problem's place and message."""
    try:
        return kind.model_validate(data)
    except ValidationError as error:
        raise SelfMoaError(
            f"{what} ({visible(problem(error))}){'; ' if advice else ''}{advice}"
        ) from None


def problem(error: ValidationError) -> str:
    """The first validation problem as ``place: message`` (and how many more there are)."""
    first = error.errors()[0]
    place = ".".join(str(part) for part in first["loc"]) or "the top level"
    more = error.error_count() - 1
    return f"{place}: {first['msg']}" + (f" (and {more} more)" if more else "")


def load_summary(path: Path, kind: type[ModelT]) -> ModelT:
    """A stage's summary.json (``PolicySummary`` or ``CapabilitySummary``) or one line."""
    return _validated(
        kind,
        read_json(path),
        f"{visible(str(path))} is not a {kind.__name__} selfmoa wrote",
        "delete that stage's folder and run again",
    )
