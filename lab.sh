#!/usr/bin/env bash
# Command 1 of 2: set up and open JupyterLab on the notebooks. Offline by default: with no
# LABKIT_MODEL and no key, every notebook uses the simulated model and says so.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh
root_flag=()
[[ $EUID -eq 0 ]] && root_flag=(--allow-root)   # Jupyter refuses root without it (containers, class VMs)
exec .venv/bin/jupyter lab --notebook-dir=notebooks "${root_flag[@]}" "$@"
