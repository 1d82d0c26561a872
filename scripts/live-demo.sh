#!/usr/bin/env bash
# The live demo in one command: two network namespaces joined by a veth, `labkit respond` on one side,
# a real `ping` from the other. Everything is created here and removed on exit, even on Ctrl-C or error.
#
#   sudo scripts/live-demo.sh                      # simulated model, slept for real (NOT Claude)
#   sudo scripts/live-demo.sh reference 5          # the reference stack, 5 pings
#   sudo -E scripts/live-demo.sh claude 4          # Claude (needs ANTHROPIC_API_KEY; costs money)
#
# Without root it runs the same demo on the software wire (an in-process pinger), which needs nothing.
set -euo pipefail

MODEL="${1:-simulated:7:real_time=1}"
COUNT="${2:-4}"
EXTRA_RESPOND_ARGS="${LABKIT_RESPOND_ARGS:-}"     # e.g. "--raw" or "--budget-usd 0.05"

if command -v labkit >/dev/null 2>&1; then
    LABKIT=(labkit)
else
    LABKIT=(python3 -c 'import sys; from labkit.cli import main; sys.exit(main())')
fi

if [[ "$(id -u)" != 0 ]]; then
    echo "live-demo: not root, so no namespaces; running the software wire instead (no root needed)."
    echo "live-demo: for the real thing: sudo $0 $*"
    exec "${LABKIT[@]}" respond --software --model "$MODEL" --count "$COUNT"
fi

TAG="lkdemo-$$"
PING_NS="$TAG-p"
LABKIT_NS="$TAG-l"
PING_IF="$TAG-a"
LABKIT_IF="$TAG-b"
LOG="$(mktemp)"
RESPONDER_PID=""

cleanup() {
    if [[ -n "$RESPONDER_PID" ]] && kill -0 "$RESPONDER_PID" 2>/dev/null; then
        kill -TERM "$RESPONDER_PID" 2>/dev/null || true
        wait "$RESPONDER_PID" 2>/dev/null || true
    fi
    ip netns del "$PING_NS" 2>/dev/null || true
    ip netns del "$LABKIT_NS" 2>/dev/null || true
    rm -f "$LOG"
}
trap cleanup EXIT INT TERM

ip netns add "$PING_NS"
ip netns add "$LABKIT_NS"
ip link add "$PING_IF" netns "$PING_NS" type veth peer name "$LABKIT_IF" netns "$LABKIT_NS"
ip -n "$PING_NS" addr add 10.0.0.1/24 dev "$PING_IF"
ip -n "$PING_NS" link set "$PING_IF" up
ip -n "$PING_NS" link set lo up
ip -n "$LABKIT_NS" link set "$LABKIT_IF" up          # no address: the kernel there cannot answer first
ip -n "$LABKIT_NS" link set lo up

echo "live-demo: $PING_NS (10.0.0.1) <-veth-> $LABKIT_NS (no kernel address; labkit answers 10.0.0.2)"
# shellcheck disable=SC2086
ip netns exec "$LABKIT_NS" "${LABKIT[@]}" respond --interface "$LABKIT_IF" --address 10.0.0.2 \
    --model "$MODEL" $EXTRA_RESPOND_ARGS >>"$LOG" 2>&1 &
RESPONDER_PID=$!

for _ in $(seq 100); do                                # wait for the banner (model loaded, socket open)
    grep -q "Ctrl-C stops" "$LOG" && break
    kill -0 "$RESPONDER_PID" 2>/dev/null || { cat "$LOG"; exit 2; }
    sleep 0.1
done
cat "$LOG"
: >"$LOG"

echo
ip netns exec "$PING_NS" ping -c "$COUNT" -W 15 10.0.0.2 || true
echo

kill -TERM "$RESPONDER_PID"      # TERM: a background job of a script ignores SIGINT
wait "$RESPONDER_PID" || true
RESPONDER_PID=""
cat "$LOG"
