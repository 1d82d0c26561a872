#!/usr/bin/env bash
# The live demo in one command: a network namespace for the pinger joined by a veth to labkit, `labkit
# respond` on the other end, a real `ping`. Everything is created here and removed on exit, even on Ctrl-C.
#
#   sudo scripts/live-demo.sh                      # simulated model, slept for real (NOT Claude)
#   sudo scripts/live-demo.sh reference 5          # the reference stack, 5 pings
#   sudo -E scripts/live-demo.sh claude 4          # Claude (needs ANTHROPIC_API_KEY; costs money)
#   sudo LABKIT_RESPOND_ARGS=--raw scripts/live-demo.sh simulated:3:icmp_checksum=1.0
#   sudo LABKIT_DEMO_RECEIVERS=both scripts/live-demo.sh ...   # ping socket and raw socket, one after the other
#
# Works from any directory and uses the repository's .venv when there is one. Without root it runs the
# same demo on the software wire (an in-process pinger), which needs nothing.
#
# The pinger's namespace sets net.ipv4.ping_group_range as distributions do (systemd), so `ping` uses an
# ICMP datagram ("ping") socket and the kernel drops a reply with a bad checksum. With
# LABKIT_DEMO_RECEIVERS=both the same pings are repeated on a raw socket (ping_group_range "1 0"), where
# iputils sees the reply itself: older versions count it, 20240905 and later print "(BAD CHECKSUM!)".
#
# Where labkit runs: in a second namespace of its own, except for models that call an API (claude...), which
# need the machine's route out. Then labkit's end of the veth stays in this (root) namespace, with no
# address, IPv4 forwarding and ARP answers switched off on it and IPv6 disabled on it, so the kernel neither
# answers nor forwards anything that arrives there; only labkit does.
set -euo pipefail

MODEL="${1:-simulated:7:real_time=1}"
COUNT="${2:-4}"
EXTRA_RESPOND_ARGS="${LABKIT_RESPOND_ARGS:-}"     # e.g. "--raw" or "--budget-usd 0.05"
RECEIVERS="${LABKIT_DEMO_RECEIVERS:-ping-socket}" # ping-socket | both

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if "$REPO/.venv/bin/python" -c '' 2>/dev/null; then
    PYTHON="$REPO/.venv/bin/python"
else
    PYTHON="$(command -v python3)"
    echo "live-demo: $REPO/.venv is missing or not usable by $(id -un); trying $PYTHON (scripts/install.sh makes the venv)"
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
LABKIT=("$PYTHON" -c 'import sys; from labkit.cli import main; sys.exit(main())')

if [[ "$(id -u)" != 0 ]]; then
    echo "live-demo: not root, so no namespaces; running the software wire instead (no root needed)."
    echo "live-demo: for the real thing: sudo $0 $*"
    # shellcheck disable=SC2086
    exec "${LABKIT[@]}" respond --software --model "$MODEL" --count "$COUNT" $EXTRA_RESPOND_ARGS
fi

TAG="lkdemo-$$"
PING_NS="$TAG-p"
LABKIT_NS="$TAG-l"
PING_IF="lkd$$a"
LABKIT_IF="lkd$$b"
LOG="$(mktemp)"
RESPONDER_PID=""
case "$MODEL" in
    claude*|record:*claude*) IN_ROOT_NS=1 ;;   # the model needs the machine's route to the API
    *) IN_ROOT_NS=0 ;;
esac

cleanup() {
    if [[ -n "$RESPONDER_PID" ]] && kill -0 "$RESPONDER_PID" 2>/dev/null; then
        kill -TERM "$RESPONDER_PID" 2>/dev/null || true
        wait "$RESPONDER_PID" 2>/dev/null || true
    fi
    ip link del "$LABKIT_IF" 2>/dev/null || true
    ip netns del "$PING_NS" 2>/dev/null || true
    ip netns del "$LABKIT_NS" 2>/dev/null || true
    rm -f "$LOG"
}
trap cleanup EXIT INT TERM

ip netns add "$PING_NS"
ip netns exec "$PING_NS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
if [[ "$IN_ROOT_NS" == 1 ]]; then
    ip link add "$PING_IF" netns "$PING_NS" type veth peer name "$LABKIT_IF"
    sysctl -qw "net.ipv6.conf.$LABKIT_IF.disable_ipv6=1"
    sysctl -qw "net.ipv4.conf.$LABKIT_IF.forwarding=0"     # nothing arriving here is routed on
    sysctl -qw "net.ipv4.conf.$LABKIT_IF.arp_ignore=8"     # the kernel answers no ARP here; labkit does
    ip link set "$LABKIT_IF" up
    RUN_LABKIT=()
    WHERE="this namespace (for the API route)"
else
    ip netns add "$LABKIT_NS"
    ip link add "$PING_IF" netns "$PING_NS" type veth peer name "$LABKIT_IF" netns "$LABKIT_NS"
    ip -n "$LABKIT_NS" link set "$LABKIT_IF" up      # no address: the kernel there cannot answer first
    ip -n "$LABKIT_NS" link set lo up
    RUN_LABKIT=(ip netns exec "$LABKIT_NS")
    WHERE="$LABKIT_NS"
fi
ip -n "$PING_NS" addr add 10.0.0.1/24 dev "$PING_IF"
ip -n "$PING_NS" link set "$PING_IF" up
ip -n "$PING_NS" link set lo up

echo "live-demo: $PING_NS (10.0.0.1) <-veth-> labkit in $WHERE (no kernel address; labkit answers 10.0.0.2)"
# shellcheck disable=SC2086
"${RUN_LABKIT[@]}" "${LABKIT[@]}" respond --interface "$LABKIT_IF" --address 10.0.0.2 \
    --model "$MODEL" $EXTRA_RESPOND_ARGS >>"$LOG" 2>&1 &
RESPONDER_PID=$!

for _ in $(seq 600); do                                # wait for the banner (model loaded, socket open)
    grep -q "Ctrl-C stops" "$LOG" && break
    kill -0 "$RESPONDER_PID" 2>/dev/null || { cat "$LOG"; exit 2; }
    sleep 0.1
done
cat "$LOG"
: >"$LOG"

pings() {
    echo
    echo "live-demo: ping on $1 (net.ipv4.ping_group_range = $(ip netns exec "$PING_NS" sysctl -n net.ipv4.ping_group_range))"
    ip netns exec "$PING_NS" ping -n -c "$COUNT" -W 15 10.0.0.2 || true
}
pings "an ICMP datagram (ping) socket: the kernel checks the reply's checksum"
if [[ "$RECEIVERS" == both ]]; then
    ip netns exec "$PING_NS" sysctl -qw net.ipv4.ping_group_range="1 0"
    pings "a raw socket: iputils sees every reply itself"
fi
echo

kill -TERM "$RESPONDER_PID"      # TERM: a background job of a script ignores SIGINT
wait "$RESPONDER_PID" || true
RESPONDER_PID=""
cat "$LOG"
