#!/usr/bin/env bash
# Command 2 of 2: install what the tests need, then run every test: unit, live (root, in network
# namespaces the tests create), browser (chromium through JupyterLab), and nbval over the notebooks.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh --test
export PATH="$PWD/.venv/bin:$PATH"
unset LABKIT_MODEL ANTHROPIC_API_KEY ANTHROPIC_BASE_URL   # tests are offline and deterministic
status=0
python -m pytest tests "$@" || status=$?
python -m pytest --nbval notebooks/ -p no:cacheprovider "$@" || status=$?
exit $status
