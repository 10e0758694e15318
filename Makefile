# Two entry points (see README): `make run` and `make test`. Both set everything up first.
.PHONY: setup run test lint eval-gate eval-suite

setup:
	scripts/setup.sh

run: setup
	.venv/bin/rag ingest data/corpus
	.venv/bin/rag serve

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Stored vectors for the suite's corpora are pinned to int8 ONNX: `auto` would store bf16 vectors
# on CPUs with AMX for corpora over 1 MB (timeqa), and the baseline was made with int8.
SUITE_FLAGS = --suite --set ingest_runtime=onnx-int8 --baseline evals/baselines/suite.json

# The regression gate: a change that makes answers worse fails here. The seed sets, then every
# question of the suite (evals/suites/default.toml), ours only: about 5 CPU-minutes on a cold
# cache (3 minutes on 2 idle cores), mostly indexing timeqa; the naive baseline would add 13
# CPU-minutes, so it runs in `make eval-suite` only (docs/evals.md).
eval-gate:
	.venv/bin/rag eval --questions evals/questions/seed_dev.jsonl --corpus data/corpus \
		--out build/eval-dev --baseline evals/baselines/seed_dev.json
	.venv/bin/rag eval --questions evals/questions/seed_extra.jsonl --corpus data/corpus \
		--out build/eval-extra --baseline evals/baselines/seed_extra.json
	.venv/bin/rag eval $(SUITE_FLAGS) --no-naive --out build/eval-suite-gate

# The whole suite with the naive llama-index baseline beside every set, gated like eval-gate:
# report in build/eval-suite/report.html. Cold: ~18 CPU-minutes; warm (indexes cached): ~2.
eval-suite: setup
	.venv/bin/rag eval $(SUITE_FLAGS) --out build/eval-suite

test:
	scripts/setup.sh --browser
	$(MAKE) --no-print-directory lint
	.venv/bin/pytest
	$(MAKE) --no-print-directory eval-gate
