#!/usr/bin/env bash
# The figures issues 5 and 6 ask of a 16-core machine, in one run:
#   1. 100,000 subscribers on one kete server fed at 2,000,000 deliveries/s, against the
#      bare gws hub in the same run;
#   2. three server nodes on NATS against one, at saturation and at a fixed rate.
# Usage: scripts/bench-device.sh [OUTDIR]   (default $OUT, else ./bench-out)
# Sizes can be scaled down for a dry run: SUBS=3000 RATE=60000 DURATION=5s scripts/bench-device.sh
# On a machine without the Go module cache (the device machine reaches nothing outside),
# build here and pass the binaries: KETE_BIN=… NATS_BIN=… (go build -o; both static).
# Loopback only; every run bounded by --duration and the tool's own timeouts. Not for CI.
set -euo pipefail

out=${1:-${OUT:-./bench-out}}
subs=${SUBS:-100000}
rate=${RATE:-2000000}
duration=${DURATION:-10s}
cluster_subs=${CLUSTER_SUBS:-20000}
mkdir -p "$out"
bin=$(mktemp -d)
trap 'kill "${nats_pid:-0}" 2>/dev/null || true; rm -rf "$bin"' EXIT

if [[ -n ${KETE_BIN:-} ]]; then cp "$KETE_BIN" "$bin/kete"; else go build -o "$bin/kete" ./cmd/kete; fi
if [[ -n ${NATS_BIN:-} ]]; then cp "$NATS_BIN" "$bin/nats-server"; else go build -o "$bin/nats-server" github.com/nats-io/nats-server/v2; fi

{
	echo "# $(date -u +%FT%TZ) $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
	echo "# kernel $(uname -r); $("$bin/kete" version 2>&1 | head -1)"
	echo "# open files limit $(ulimit -n); ephemeral ports $(cat /proc/sys/net/ipv4/ip_local_port_range)"
	uptime
} | tee "$out/host.txt"

# Each connection is a file descriptor at both ends: the subscribers and the server.
ulimit -n "$(ulimit -Hn)" || true

echo "== 1. $subs subscribers at $rate deliveries/s, kete vs bare gws hub"
"$bin/kete" bench fanout --self --baseline --subscribers "$subs" --size 100 --rate "$rate" \
	--duration "$duration" --rounds 1 --json "$out/fanout-100k.json" --html "$out/fanout-100k.html" \
	--svg "$out/fanout-100k.svg" 2>&1 | tee "$out/fanout-100k.txt"

echo "== 2. three nodes vs one on NATS"
"$bin/nats-server" -a 127.0.0.1 -p 4222 >"$out/nats.log" 2>&1 &
nats_pid=$!
for _ in $(seq 50); do
	(exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break
	sleep 0.1
done
for mode in "--saturate" "--saturate --publish ws --publishers 3" "--rate 1000000"; do
	name=$(echo "$mode" | tr -d '-' | tr ' ' '_')
	# shellcheck disable=SC2086 # mode is a list of flags
	"$bin/kete" bench fanout --self --nodes 3 --nats nats://127.0.0.1:4222 --compare-nodes 1 \
		--nats-pid "$nats_pid" --subscribers "$cluster_subs" $mode --duration "$duration" --rounds 2 \
		--json "$out/cluster-$name.json" 2>&1 | tee "$out/cluster-$name.txt"
done
echo "results in $out"
