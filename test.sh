#!/usr/bin/env bash
# Command 2 of 2: install what the tests need, lint (ruff) and type-check (mypy), then run every test: unit,
# live (root, in network namespaces the tests create), browser (chromium through JupyterLab), and nbval over
# the notebooks.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh --test
export PATH="$PWD/.venv/bin:$PATH"
unset LABKIT_MODEL ANTHROPIC_API_KEY ANTHROPIC_BASE_URL   # tests are offline and deterministic
status=0
# Lint, format and types first (seconds); configured in pyproject.toml, versions pinned in its test extra.
python -m ruff check labkit tests benchmarks scripts || status=$?
python -m ruff format --check labkit tests benchmarks scripts || status=$?
python -m mypy || status=$?
python -m pytest tests "$@" || status=$?
python -m pytest --nbval notebooks/ -p no:cacheprovider "$@" || status=$?
exit $status
