#!/usr/bin/env bash
# Command 1 of 2: set up and open JupyterLab on the notebooks. Offline by default: with no
# LABKIT_MODEL and no key, every notebook uses the simulated model and says so.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh
# labkit's JupyterLab defaults (scripts/jupyterlab-overrides.json): save widget state with notebooks, so a
# saved notebook reopened without a kernel still shows its widgets; wrap long code lines at the window's edge;
# never fetch news. Refreshed when they change; your own changes in Settings live elsewhere and win.
settings=.venv/share/jupyter/lab/settings
mkdir -p "$settings"
cmp -s scripts/jupyterlab-overrides.json "$settings/overrides.json" || cp scripts/jupyterlab-overrides.json "$settings/overrides.json"
root_flag=()
[[ $EUID -eq 0 ]] && root_flag=(--allow-root)   # Jupyter refuses root without it (containers, class VMs)
exec .venv/bin/jupyter lab --notebook-dir=notebooks "${root_flag[@]}" "$@"
