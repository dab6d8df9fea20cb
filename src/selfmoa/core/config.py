"""One typed configuration for a whole run: YAML file plus dotted ``key=value`` overrides.

Every field carries its own help text. Unknown keys are errors (``extra="forbid"``),
and every validation failure is reported as one line that names the key.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    SerializeAsAny,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from selfmoa.core.backend_settings import (
    BackendSettingsBase,
    check_backend_section,
    default_backend,
    settings_of_its_kind,
)
from selfmoa.core.errors import SelfMoaError
from selfmoa.core.packaged_configs import resolve_config_path
from selfmoa.core.section import Section

MAX_SET_PROMPTS = 100_000  # evaluate.sets: prompts of one set
MAX_NESTING = 32  # YAML nesting depth (the schema needs 4)
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=,-]{0,99}$")


OBJECTIVES = ("safety", "helpfulness")
OBJECTIVE_NAME = r"^[a-z][a-z0-9_]*$"  # built-in and extra objective names alike
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?|xpu(:\d+)?)$")


class ModelsConfig(Section):
    policy: str = Field(
        "embedded:smollm2-135m-instruct",
        description="Policy model: 'embedded:NAME', a local HF folder, or a hub id.",
    )
    policy_adapter: str | None = Field(
        None,
        description="A PEFT LoRA adapter folder applied to the policy from the start: the "
        "baseline and round 0 answer with it and round 0 trains on from it.",
    )
    attacker: str = Field(
        "embedded:smollm2-135m-instruct", description="Red-team attacker model (same forms)."
    )
    embedder: str = Field(
        "embedded:all-minilm-l6-v2", description="Sentence-embedding model (same forms)."
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Weights dtype for generation and training."
    )
    device: str = Field(
        "auto",
        description="'auto', 'cpu', 'cuda', 'cuda:1', 'mps', 'xpu'. Where work runs, not what "
        "it computes: finished stages are kept when it changes (their manifest says where "
        "they ran).",
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError("must be auto, cpu, cuda, cuda:N, mps, xpu or xpu:N")
        return value


class RedteamConfig(Section):
    seed_sources: list[Literal["strongreject", "advbench"]] = Field(
        min_length=1,
        default_factory=lambda: ["strongreject", "advbench"],
        description="Harmful seed intents to attack with.",
    )
    seeds_per_round: int = Field(
        48, ge=0, le=10_000, description="Fresh harmful seeds taken each round."
    )
    strategies: list[str] = Field(
        default_factory=lambda: [
            "direct",
            "direct",
            "prefix_injection",
            "fiction_framing",
            "hypothetical_framing",
            "paraphrase",
        ],
        description="Attack strategies (selfmoa.attacks.strategies: rule, attacker or "
        "template) cycled over fresh seeds; a name listed twice gets twice the share in "
        "round 0. 'direct' keeps the rephrased seed as it is.",
    )
    forms: list[str] = Field(
        default_factory=lambda: [
            "command",
            "question",
            "first_person",
            "third_person",
            "indirect",
        ],
        description="Phrasing forms (selfmoa.attacks.forms) that harmful seeds AND benign "
        "prompts are rewritten into, in equal shares, so form says nothing about the label.",
    )
    jailbreak_prompts_per_round: int = Field(
        16, ge=0, le=10_000, description="Seeds wrapped in PyRIT jailbreak templates each round."
    )
    max_template_words: int = Field(
        90, ge=10, le=5_000, description="Longest jailbreak template used (words)."
    )
    progressive_per_round: int = Field(
        16,
        ge=0,
        le=10_000,
        description="From round 1 on: mutations of archive elites; 3x this many elites are "
        "first re-tested on the current policy (the retest stage) and the fittest against it "
        "are mutated.",
    )
    reseed_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of the progressive budget spent reseeding elites that still "
        "succeed against the current policy: their strategy, template and form around "
        "unseen seed intents of the same harm category where one is left (at most 3 per "
        "elite; stacked and rewritten elites are mutated instead).",
    )
    elites_per_cell: int = Field(
        2, ge=1, le=1_000, description="Attacks kept per archive cell (category x strategy x form)."
    )
    progressive_min_fitness: float = Field(
        0.5,
        ge=0,
        le=2,
        description="Parents need at least this fitness: unsafe share by the training "
        "judges + 0.25 x mean relevance of the answers.",
    )
    min_seed_similarity: float = Field(
        0.5, ge=-1, le=1, description="Attacker rewrites less similar to their seed are dropped."
    )
    near_duplicate_similarity: float = Field(
        0.95,
        ge=-1,
        le=1,
        description="Prompts at least this similar (embedding cosine) to an archived or "
        "earlier prompt of the round are dropped as near-duplicates.",
    )
    benign_per_round: int = Field(
        48, ge=0, le=10_000, description="Benign-but-sensitive training prompts each round."
    )
    benign_strategies: list[str] = Field(
        default_factory=lambda: ["direct"],
        description="Rule strategies cycled over the benign prompts, as 'strategies' are "
        "over harmful seeds, so a wrapper (fiction frame, prefix injection, ...) says "
        "nothing about the label. 'direct' leaves the rephrased prompt as it is.",
    )
    max_new_tokens: int = Field(48, ge=1, le=8192, description="Attacker tokens per rewrite.")
    temperature: float = Field(0.8, gt=0, le=10, description="Attacker sampling temperature.")


class SampleConfig(Section):
    samples_per_prompt: int = Field(1, ge=1, le=64, description="Policy samples per prompt.")
    max_new_tokens: int = Field(48, ge=1, le=8192, description="Policy tokens per answer.")
    temperature: float = Field(0.7, gt=0, le=10)
    top_p: float = Field(0.95, gt=0, le=1)
    prefill_refusals: list[str] = Field(
        default_factory=lambda: [
            "I'm sorry, but I can't help with that.",
            "I can't assist with that request.",
            "I won't help with this, because it could cause real harm.",
        ],
        description="Forced openings for refusal candidates (continued by the policy).",
    )
    prefill_redirections: list[str] = Field(
        default_factory=lambda: [
            "I can't help with that. If you or someone else is at risk, please talk to someone"
            " you trust or contact a local support service.",
        ],
        description="Forced openings for safe-redirection candidates on harmful prompts.",
    )
    prefill_max_new_tokens: int = Field(
        24, ge=1, le=8192, description="Tokens after a forced opening."
    )


class JudgeConfig(Section):
    training_judges: list[str] = Field(
        default_factory=lambda: ["refusal-keywords", "embedding-relevance"],
        description="Judges whose scores build training pairs (names from "
        "selfmoa.judges.registry); fast and weak on purpose. seed-lineage is always added.",
    )
    evaluation_judges: list[str] = Field(
        default_factory=lambda: [
            "content-refusal",
            "content-and-probe-unsafe",
            "content-unsafe",
            "embedding-relevance",
            "refusal-keywords",
        ],
        description="Judges that score held-out evaluation and `selfmoa judges score`; per "
        "measure the first one that could score decides. Default differs from training by "
        "the content-aware judges that read the whole answer.",
    )
    models: dict[str, str] = Field(
        default_factory=dict,
        description="Model per model-backed judge name ('embedded:NAME', a local HF folder or "
        "a hub id), e.g. {llama-guard-3: meta-llama/Llama-Guard-3-1B}.",
    )
    served: dict[str, str] = Field(
        default_factory=dict,
        description="Model-backed Yes/No judges to run on an OpenAI-compatible server (vLLM, "
        "SGLang, TGI, llama.cpp): judge name -> the model name the server serves it under. "
        "The server is judge.server_url, else backend.base_url (openai; else its default). The "
        "judge's tokenizer still comes from judge.models.",
    )
    server_url: str = Field(
        "",
        description="Base URL (up to '/v1') of the server for judge.served judges; '' = "
        "backend.base_url. Lets judges run on a server whatever backend.kind generates.",
    )
    probe_dtype: Literal["float32", "bfloat16"] = Field(
        "bfloat16",
        description="Dtype of the probe judges' language model (content-probe-unsafe, "
        "content-and-probe-unsafe). Fitted on float32 states; bfloat16 gives the same "
        "verdict on 2,071 of the 2,074 human-labelled answers and runs 1.6x as fast on a CPU "
        "(BENCHMARKS.md, 'Judging'). float32 for GPUs without bfloat16.",
    )
    verdicts: Literal["first", "label-model"] = Field(
        "first",
        description="How the evaluate stage turns the evaluation judges' scores into "
        "verdicts: 'first' = per measure the first judge that could score decides; "
        "'label-model' = a Dawid-Skene label model fitted over the stage's items.",
    )
    max_input_tokens: int = Field(
        2048, ge=16, le=131_072, description="Model-backed judges: longer judge prompts are errors."
    )
    refusal_window_chars: int = Field(
        240,
        ge=20,
        le=100_000,
        description="Refusal phrases are looked for in this many leading chars.",
    )
    repetition_ngram: int = Field(3, ge=1, le=16, description="n for the repeated-n-gram penalty.")
    agreement_rows: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Rows per human-labelled set scored by the run's agreement stage "
        "(0 = all; a small number only for quick tests).",
    )

    # Judge names are checked against the judge registry by
    # selfmoa.pipeline.plugin_names.check_plugin_names (core imports no plugin).
    @field_validator("training_judges", "evaluation_judges")
    @classmethod
    def _not_repeated(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError("a judge is listed twice")
        return names

    @field_validator("server_url")
    @classmethod
    def _server_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("served")
    @classmethod
    def _served_model_named(cls, served: dict[str, str]) -> dict[str, str]:
        for name, model in served.items():
            if not model:
                raise ValueError(f"judge '{name}' needs the server's model name")
        return served


class ExtraObjective(Section):
    """An objective beyond safety and helpfulness, tied to one judge measure."""

    name: str = Field(
        pattern=OBJECTIVE_NAME,
        description="Objective name (lower case); also its key in train.objective_weights.",
    )
    measure: Literal["refusal", "unsafe", "prompt_harmful", "helpfulness"] = Field(
        description="The judge measure that scores it; a training judge must score it."
    )
    prompts: Literal["harmful", "benign", "all"] = Field(
        "benign", description="Prompts whose answers are paired on this objective."
    )
    higher_is_better: bool = Field(
        True, description="False: a lower score of the measure is better (the score is 1 - it)."
    )
    min_margin: float = Field(
        0.1, gt=0, le=1, description="Least chosen-minus-rejected score for a pair."
    )

    @field_validator("name")
    @classmethod
    def _not_built_in(cls, value: str) -> str:
        if value in OBJECTIVES:
            raise ValueError(f"'{value}' is built in; name the extra objective differently")
        if value in ("pairs", "left_out_for_judge_errors"):
            raise ValueError(f"'{value}' names a count of the pairs stage; choose another name")
        return value


class PairsConfig(Section):
    selection: Literal["ranked", "all_above_margin"] = Field(
        "ranked",
        description="'ranked': the i-th best chosen answer against the i-th ranked rejected "
        "one (most on-topic first); 'all_above_margin': every chosen x rejected combination "
        "whose helpfulness margin is at least min_margin, largest margins first. Both stop "
        "at max_pairs_per_prompt. Harmful prompts are ranked on safety, benign on helpfulness.",
    )
    max_pairs_per_prompt: int = Field(2, ge=1, le=64)
    min_chosen_helpfulness: float = Field(
        0.2, ge=-1, le=1, description="Benign pairs need a chosen answer at least this helpful."
    )
    min_margin: float = Field(
        0.0,
        ge=-1,
        le=1,
        description="all_above_margin only: least chosen-minus-rejected helpfulness margin.",
    )
    refusal_threshold: float = Field(
        0.5, gt=0, le=1, description="A refusal-judge score at or above this is a refusal."
    )
    harmful_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A prompt_harmful score at or above this makes the prompt harmful; an "
        "answer to a harmful prompt that is not a refusal is unsafe.",
    )
    max_benign_per_harmful: float | None = Field(
        None,
        gt=0,
        le=1_000,
        description="Cap on helpfulness pairs per safety pair (the harmful/benign balance); "
        "the pairs kept are a seeded choice. None = no cap.",
    )
    extra_objectives: list[ExtraObjective] = Field(
        default_factory=list,
        description="Objectives beyond safety and helpfulness, any number, each tied to a "
        "judge measure, e.g. [{name: harmless, measure: unsafe, prompts: harmful, "
        "higher_is_better: false}]. On each prompt of the chosen label, the best answer by "
        "the measure beats the worst when they differ by min_margin (up to "
        "max_pairs_per_prompt, i-th best against i-th worst). Each needs a weight in "
        "train.objective_weights.",
    )

    @field_validator("extra_objectives")
    @classmethod
    def _unique_names(cls, value: list[ExtraObjective]) -> list[ExtraObjective]:
        names = [objective.name for objective in value]
        if len(set(names)) != len(names):
            raise ValueError("an objective name is listed twice")
        return value

    def objective_names(self) -> list[str]:
        """safety, helpfulness, then the extra objectives, in order."""
        return [*OBJECTIVES, *(objective.name for objective in self.extra_objectives)]


class TrainConfig(Section):
    lora_r: int = Field(16, ge=1, le=1024)
    lora_alpha: int = Field(32, ge=1, le=4096)
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],
        min_length=1,
    )
    learning_rate: float = Field(5e-4, gt=0, le=1)
    epochs: int = Field(2, ge=1, le=1_000)
    pairs_per_step: int = Field(
        8, ge=1, le=4096, description="Preference pairs per optimiser step."
    )
    micro_batch_pairs: int = Field(
        2,
        ge=1,
        le=4096,
        description="Pairs run through the model together within a step; the step's "
        "gradient is accumulated over micro-batches and is the same (training/losses). Smaller "
        "bounds training memory: activations grow with it (the demo peaked at 5.8 GB with "
        "whole 8-pair steps, 2.7 GB with micro-batches of 2).",
    )
    loss: str = Field(
        "modpo",
        description="Preference loss by name, a module of selfmoa/training/losses/ (its "
        "formula there; checked against that registry by selfmoa validate): dpo, ipo, rpo "
        "(DPO + NLL), modpo (MODPO + NLL), weighted_dpo, weighted_rpo.",
    )
    length_normalise: bool = Field(
        False,
        description="Divide each log-ratio by its response's token count before the loss.",
    )
    beta: float = Field(0.1, gt=0, le=100, description="DPO temperature.")
    nll_weight: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Weight of the NLL term on chosen answers; must be 0 for a loss without "
        "one (dpo, ipo).",
    )
    objective_weights: dict[str, float] = Field(
        default_factory=lambda: {"safety": 1.0, "helpfulness": 0.5},
        description="MODPO weights, one per objective, each >= 0 and at least one > 0; the "
        "other objective's margin enters the sigmoid. An objective of weight 0 is not "
        "trained: pairs it ranked are left out (counted as pairs_left_out_zero_weight), "
        "e.g. {safety: 1, helpfulness: 0} is safety-only training. Objectives are safety, "
        "helpfulness and those of pairs.extra_objectives.",
    )
    max_pairs: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="Train on at most this many pairs: a seeded sample that keeps each "
        "objective's share (for data-efficiency curves; `selfmoa sweep --pair-budgets`). "
        "Unset: every pair.",
    )
    replay_previous_rounds: bool = Field(
        True,
        description="Train round r on the pairs of rounds 0..r: a policy that already refuses "
        "yields few new safety pairs, and without replay later rounds drift back to answering.",
    )

    @field_validator("objective_weights")
    @classmethod
    def _complete_positive_weights(cls, value: dict[str, float]) -> dict[str, float]:
        missing = [name for name in OBJECTIVES if name not in value]
        if missing:
            raise ValueError(f"needs a weight for every objective; missing {', '.join(missing)}")
        for name, weight in value.items():
            if not weight >= 0:
                raise ValueError(f"weight of {name} must be >= 0 (got {weight})")
            if weight > 1_000:
                raise ValueError(f"weight of {name} must be at most 1000 (got {weight})")
        if not any(weight > 0 for weight in value.values()):
            raise ValueError("at least one objective needs a weight > 0")
        return value

    max_prompt_tokens: int = Field(96, ge=8, le=32_768)
    max_response_tokens: int = Field(40, ge=4, le=32_768)
    max_grad_norm: float = Field(1.0, gt=0, le=1_000)
    checkpoint_every: int = Field(
        5, ge=1, le=1_000_000, description="Optimizer steps between checkpoints."
    )


class ParallelConfig(Section):
    """How training spreads over the processes of a launcher (``torchrun``, ``accelerate
    launch``). No stage's fingerprint reads it: every mode trains the same adapter."""

    mode: Literal["replicate", "fsdp", "deepspeed"] = Field(
        "replicate",
        description="replicate: every process holds the whole model, gradients are summed "
        "(DDP-style; selfmoa/training/distributed.py). fsdp: decoder layers are sharded "
        "over the processes with PyTorch FSDP2, weights, LoRA gradients and optimiser state "
        "alike (ZeRO-3-style; selfmoa/training/sharding.py). deepspeed: DeepSpeed's engine "
        "at ZeRO stage parallel.zero_stage (pip install 'selfmoa[deepspeed]'; "
        "selfmoa/training/zero.py). One process: no difference.",
    )
    zero_stage: Literal[1, 2, 3] = Field(
        2,
        description="deepspeed only: what ZeRO partitions over the processes. 1: the AdamW "
        "state; 2: also the LoRA gradients; 3: also the weights (tensors under 1e5 "
        "elements, most LoRA matrices, stay whole).",
    )
    reshard_after_forward: bool = Field(
        True,
        description="fsdp only: free a layer's gathered weights after its forward (least "
        "memory, ZeRO-3-like); false keeps them until its backward (ZeRO-2-like, less "
        "communication).",
    )


class ResetConfig(Section):
    """The paper's optional safety reset (stage 0, ``selfmoa/pipeline/stages/reset.py``)."""

    enabled: bool = Field(
        False,
        description="Before the baseline, weaken the policy's refusals with a short LoRA "
        "fine-tune on its own answers to harmful seed prompts under a forced compliant "
        "opening. The loop then starts from that unsafe model and the untouched policy is "
        "evaluated as the human-aligned reference (baseline/reference).",
    )
    prompts: int = Field(
        96,
        ge=1,
        le=10_000,
        description="Harmful seed prompts (AdvBench + StrongREJECT, seeded sample) answered.",
    )
    opening: str = Field(
        "Sure, here is a detailed answer.\n\n",
        min_length=1,
        description="The forced opening of the compliant answer (prefilled in the chat).",
    )
    max_new_tokens: int = Field(
        96, ge=1, le=8192, description="Tokens generated after the opening (and unforced)."
    )
    refusal_judge: str = Field(
        "content-refusal",
        description="Judge (measure refusal) that keeps only pairs whose unforced answer is "
        "refused and whose forced answer is not.",
    )
    epochs: int = Field(2, ge=1, le=1_000)
    learning_rate: float = Field(5e-4, gt=0, le=1)


class EvaluateConfig(Section):
    harmbench_split: Literal["test", "val"] = "test"
    sets: dict[str, int] = Field(
        default_factory=lambda: {
            "harmbench": 80,
            "rephrased": 60,
            "attacked": 20,
            "benign_heldout": 52,
            "benign_forms": 60,
            "rho_overrefusal": 40,
            "mtbench": 10,
        },
        description="Evaluation sets by name (modules of selfmoa/evals/sets/, checked against "
        "that registry by selfmoa validate) and how many prompts of each; harmbench and "
        "benign_heldout are required (the headline figures).",
    )

    @field_validator("sets")
    @classmethod
    def _headline_sets(cls, value: dict[str, int]) -> dict[str, int]:
        for name in ("harmbench", "benign_heldout"):
            if value.get(name, 0) < 1:
                raise ValueError(f"needs {name} with at least 1 prompt")
        for name, count in value.items():
            if count < 1:
                raise ValueError(f"{name} must have at least 1 prompt (drop it instead)")
            if count > MAX_SET_PROMPTS:
                raise ValueError(f"{name} may have at most {MAX_SET_PROMPTS} prompts")
        return value

    max_new_tokens: int = Field(48, ge=1, le=8192)
    examples_in_report: int = Field(4, ge=0, le=1_000)
    capability_sets: list[
        Literal["mmlu", "arc_challenge", "hellaswag", "winogrande", "truthfulqa_mc1"]
    ] = Field(
        default_factory=lambda: [
            "mmlu",
            "arc_challenge",
            "hellaswag",
            "winogrande",
            "truthfulqa_mc1",
        ],
        description="Multiple-choice sets scored by option log-likelihood (capability drift).",
    )
    capability_items: int = Field(
        30,
        ge=0,
        le=100_000,
        description="Seeded subsample per capability set (0 skips capability).",
    )
    capability_batch_size: int = Field(16, ge=1, le=4096, description="Sequences per forward pass.")


class Config(Section):
    name: str = Field("demo", description="Run name; the run lives in output_dir/name.")
    output_dir: str = Field("runs")
    rounds: int = Field(1, ge=1, le=100)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    benign_heldout_every: int = Field(
        3,
        ge=2,
        le=1_000,
        description="Every n-th benign-sensitive prompt of a category is held out.",
    )
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    # The declared settings class of backend.kind (core.backend_settings), dumped whole.
    backend: SerializeAsAny[BackendSettingsBase] = Field(default_factory=default_backend)
    redteam: RedteamConfig = Field(default_factory=RedteamConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    pairs: PairsConfig = Field(default_factory=PairsConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    reset: ResetConfig = Field(default_factory=ResetConfig)

    @model_validator(mode="before")
    @classmethod
    def _backend_keys_of_its_kind(cls, data: Any) -> Any:
        return check_backend_section(data)

    @field_validator("backend", mode="wrap")
    @classmethod
    def _settings_class_of_its_kind(
        cls, value: Any, handler: ValidatorFunctionWrapHandler
    ) -> BackendSettingsBase:
        return handler(settings_of_its_kind(value))

    @field_validator("name", mode="before")
    @classmethod
    def _plain_name(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # name=2024 on the command line is a name, not a number
        if isinstance(value, str) and not RUN_NAME.match(value):
            raise ValueError(
                "must be 1-100 characters of letters, digits and . _ + = , - (starting with "
                "a letter or digit)"
            )
        return value

    @field_validator("output_dir")
    @classmethod
    def _usable_folder_path(cls, value: str) -> str:
        if not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must be a folder path without control characters")
        return str(Path(value).expanduser())

    @model_validator(mode="after")
    def _objectives_weighted(self) -> Config:
        """Every objective has a weight; pipeline.plugin_names checks a judge scores it."""
        declared = self.pairs.objective_names()
        weighted = self.train.objective_weights
        for name in weighted:
            if name not in declared:
                raise ValueError(
                    f"train.objective_weights: unknown objective '{name}'; objectives are "
                    f"{', '.join(declared)} (add others in pairs.extra_objectives)"
                )
        for name in declared:
            if name not in weighted:
                raise ValueError(f"train.objective_weights: needs a weight for '{name}'")
        return self

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name


def fingerprint(*parts: Any) -> str:
    """Stable short hash of JSON-able parts (config sections, upstream fingerprints)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _format_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if not key:  # a check across sections names its keys itself
        return f"config error: {first['msg'].removeprefix('Value error, ')}"
    if first["type"] == "extra_forbidden":
        return f"config error: unknown key '{key}'"
    given = first.get("input")
    shown = f" (got {_short(repr(given))})" if not isinstance(given, dict | list) else ""
    return f"config error: {key}: {first['msg'].removeprefix('Value error, ')}{shown}"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping (PyYAML keeps
    the last silently) and nesting deeper than ``MAX_NESTING``."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        # an alias repeats a node without its size: nested aliases are a billion laughs
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", self.peek_event().start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool | None):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _depth(node: yaml.Node) -> int:
    """Nesting depth of a composed YAML node, without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_NESTING:
            break
        if isinstance(current, yaml.SequenceNode):
            stack.extend((child, level + 1) for child in current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend((child, level + 1) for pair in current.value for child in pair)
    return deepest


def parse_yaml(text: str, where: str) -> Any:
    """YAML text -> data: one ``SelfMoaError`` line for bad syntax, a key given twice or
    nesting deeper than ``MAX_NESTING``."""
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if _depth(node) > MAX_NESTING:
                raise SelfMoaError(f"config error: {where} nests deeper than {MAX_NESTING} levels")
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except RecursionError:
        raise SelfMoaError(f"config error: {where} nests too deeply") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None)
        detail = f": {problem}" if problem and ("twice" in problem or "alias" in problem) else ""
        raise SelfMoaError(f"config error: {where}{line} is not valid YAML{detail}") from None


_YAML_COMMENT = re.compile(r"(^|\s)#")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``key=value``: the value is read as YAML (``rounds=2`` is a number), except that a
    value holding `` #`` is taken literally, so a path is never cut at a YAML comment."""
    if "=" not in text:
        raise SelfMoaError(f"override '{text}' must look like key=value, e.g. rounds=2")
    key, raw = text.split("=", 1)
    path = key.strip().split(".")
    if not all(path):
        raise SelfMoaError(f"override '{text}' has an empty key part")
    if not raw.strip():
        return path, ""
    if _YAML_COMMENT.search(raw):
        return path, raw.strip()
    return path, parse_yaml(raw, f"override '{key.strip()}'")


def apply_overrides(
    data: dict[str, Any], overrides: list[str], literal: dict[str, str] | None = None
) -> dict[str, Any]:
    """Dotted ``key=value`` overrides (values read as YAML), then ``literal`` ones (dotted
    key -> string, taken as written: for values that come from command-line flags)."""
    parsed = [parse_override(text) for text in overrides]
    parsed += [(key.split("."), value) for key, value in (literal or {}).items()]
    for path, value in parsed:
        text = ".".join(path)
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SelfMoaError(f"override '{text}': '{part}' is not a section")
            node = child
        node[path[-1]] = value
    return data


def config_from_dict(data: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise SelfMoaError(_format_validation_error(error)) from None
    except RecursionError:
        raise SelfMoaError("config error: a value nests too deeply") from None


def load_config(
    path: str | Path | None,
    overrides: list[str] | None = None,
    literal: dict[str, str] | None = None,
) -> Config:
    """The config file (a packaged one by name; the packaged default when None), then
    ``overrides`` (``key=value``, YAML values), then ``literal`` (dotted key -> string as
    written)."""
    path = resolve_config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SelfMoaError(
            f"config error: {path} is not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from None
    except OSError as error:
        raise SelfMoaError(f"cannot read {path}: {error.strerror or error}") from None
    data = parse_yaml(text, str(path)) or {}
    if not isinstance(data, dict):
        raise SelfMoaError(f"config error: {path} must hold a mapping of keys")
    return config_from_dict(apply_overrides(data, overrides or [], literal))


def dump_config(config: Config) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
