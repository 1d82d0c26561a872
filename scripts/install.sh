#!/usr/bin/env bash
# Idempotent setup shared by ./lab.sh and ./test.sh.
#   scripts/install.sh          Python side only: .venv with labkit and JupyterLab (no root needed)
#   scripts/install.sh --test   also the test extras and, as root, the real network tools and chromium
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else return 1
    fi
}

apt_install() {
    # Real clients and validators beat home-made ones: the tests use them against labkit.
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    echo "install: apt-get install ${missing[*]}"
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv || { echo "install: python3-venv is missing and there is no root to install it" >&2; exit 1; }
fi

if [[ $want_test -eq 1 ]]; then
    if command -v apt-get >/dev/null 2>&1; then
        apt_install iproute2 iputils-ping tcpdump tshark busybox fping nmap hping3 chromium fonts-dejavu-core \
            || echo "install: no root; live, capture and browser tests will say they are skipped" >&2
    fi
fi

if [[ ! -x .venv/bin/python ]]; then
    # A student's first run is a few quiet minutes of downloads: say so, and which Python the venv uses.
    echo "install: making .venv with $(python3 --version) and installing labkit and JupyterLab into it (first time: a few minutes)"
    python3 -m venv .venv
fi
extras="notebooks"
[[ $want_test -eq 1 ]] && extras="notebooks,test"

# The editable install follows the code, so pip is needed again only when pyproject.toml or the extras change.
# Skipping it otherwise starts ./lab.sh in seconds, without setuptools' editable-install warning every time.
stamp=.venv/.labkit-installed
pyproject_hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
up_to_date() {
    local hash have extra
    [[ -f $stamp ]] && read -r hash have <"$stamp" || return 1
    [[ $hash == "$pyproject_hash" ]] || return 1
    for extra in ${extras//,/ }; do [[ ",$have," == *",$extra,"* ]] || return 1; done
    .venv/bin/python -c 'import importlib.metadata as m; m.version("labkit")' 2>/dev/null   # installed, not just cwd
}
if up_to_date; then
    echo "install: .venv is up to date (extras: ${extras}; pyproject.toml unchanged)"
    exit 0
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check --editable ".[${extras}]"
echo "$pyproject_hash $extras" >"$stamp"
echo "install: labkit is installed in .venv (extras: ${extras})"
