# Two entry points (see README): `make run` and `make test`. Both set everything up first.
.PHONY: setup run test lint eval-gate

setup:
	scripts/setup.sh

run: setup
	.venv/bin/rag ingest data/corpus
	.venv/bin/rag serve

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# The dev-set eval with the regression gate: a change that makes answers worse fails here.
eval-gate:
	.venv/bin/rag eval --questions evals/questions/seed_dev.jsonl --corpus data/corpus \
		--out build/eval-dev --baseline evals/baselines/seed_dev.json
	.venv/bin/rag eval --questions evals/questions/seed_extra.jsonl --corpus data/corpus \
		--out build/eval-extra --baseline evals/baselines/seed_extra.json

test:
	scripts/setup.sh --browser
	$(MAKE) --no-print-directory lint
	.venv/bin/pytest
	$(MAKE) --no-print-directory eval-gate
