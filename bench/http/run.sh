#!/usr/bin/env bash
# Throughput of a cached read (tools/call list_currencies_catalog) on the
# sessionless 2026-07-28 path of `cryptopay-mcp http`, against a bare go-sdk
# stateless server (bench/http/bare) that answers with the very same result
# bytes, at 1, 16 and 64 connections with wrk. See docs/benchmarks-http.md.
#
#   bash bench/http/run.sh [DURATION] [ROUNDS]     (defaults: 10s, 3)
#   GOGC=100 bash bench/http/run.sh                 (the same GOGC for all servers; default: each its own)
#   OURS_GOGC=400 bash bench/http/run.sh            (cryptopay-mcp with GOGC=400, bare with GOGC)
#
# Servers and wrk share the machine; the two servers take turns (product,
# bare, product, bare ...) so that background load hits both alike.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-10s}
ROUNDS=${2:-3}
GOGC=${GOGC:-} # empty: each server's default (Go's 100 for bare; cryptopay-mcp http sets 400 itself)
OURS_GOGC=${OURS_GOGC-$GOGC}
export GOGC
WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }

go build -o "$WORK/cryptopay-mcp" ./cmd/cryptopay-mcp
go build -o "$WORK/bare" ./bench/http/bare

# product NAME [flags]: starts cryptopay-mcp http and sets URL and PID.
product() {
	local name=$1
	shift
	: >"$WORK/$name.log" # exists before the first read (the child's redirection may come later)
	env -i PATH="$PATH" HOME="$WORK" GOGC="$OURS_GOGC" CRYPTOPAY_SANDBOX=true CRYPTOPAY_DATA_DIR="$WORK/data-$name" LOG_LEVEL=warn \
		"$WORK/cryptopay-mcp" http --listen 127.0.0.1:0 "$@" 2>"$WORK/$name.log" &
	PID=$!
	PIDS+=($!)
	URL=""
	for _ in $(seq 100); do
		URL=$(sed -n 's/.*msg="MCP Streamable HTTP listening" url=\([^ ]*\).*/\1/p' "$WORK/$name.log" | head -1)
		[ -n "$URL" ] && return
		sleep 0.1
	done
	cat "$WORK/$name.log" >&2
	exit 1
}
product default
DEFAULT=$URL DEFAULT_PID=$PID
product stateless --stateless
STATELESS=$URL STATELESS_PID=$PID

# The product's answer, recorded for the bare server (and warming the
# catalog cache).
body='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_currencies_catalog","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
hdr=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream" -H "Mcp-Protocol-Version: 2026-07-28"
	-H "Mcp-Method: tools/call" -H "Mcp-Name: list_currencies_catalog")
curl -sf "${hdr[@]}" -d "$body" "$DEFAULT" >"$WORK/answer.sse"
curl -sf "${hdr[@]}" -d "$body" "$STATELESS" >/dev/null
sed -n 's/^data: //p' "$WORK/answer.sse" | python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]; r.pop("resultType",None); json.dump(r,sys.stdout)' >"$WORK/result.json"
echo "GOGC=$GOGC (cryptopay-mcp: $OURS_GOGC); result: $(wc -c <"$WORK/result.json") bytes; answer on the wire: $(wc -c <"$WORK/answer.sse") bytes"

"$WORK/bare" --listen 127.0.0.1:18090 --result "$WORK/result.json" &
BARE_PID=$!
PIDS+=($!)
BARE=http://127.0.0.1:18090/mcp
for _ in $(seq 50); do curl -sf "${hdr[@]}" -d "$body" "$BARE" >"$WORK/bare.sse" 2>/dev/null && break; sleep 0.1; done
echo "bare answer on the wire: $(wc -c <"$WORK/bare.sse") bytes"

HZ=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime

# run URL PID CONNECTIONS: prints "calls/s µs-of-server-CPU-per-call". The
# CPU figure is what the server process itself spent (from /proc), so it
# holds when other work loads the machine; calls/s does not.
run() {
	local threads=2
	[ "$3" -eq 1 ] && threads=1
	local before after
	before=$(cputicks "$2")
	wrk -t"$threads" -c"$3" -d"$DUR" -s bench/http/toolcall.lua "$1" >"$WORK/wrk.out"
	after=$(cputicks "$2")
	if ! grep -q '^bad answers: 0$' "$WORK/wrk.out" || grep -q 'Non-2xx' "$WORK/wrk.out"; then
		cat "$WORK/wrk.out" >&2
		echo "wrk saw failed calls" >&2
		exit 1
	fi
	local n rps
	n=$(awk '/ requests in / {print $1}' "$WORK/wrk.out")
	rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.out")
	echo "$rps $(echo "($after - $before) * 1000000 / $HZ / $n" | bc -l)"
}
printf '%-5s %-5s | %9s %9s %9s | %8s %8s %8s | %s\n' round conns default stateless bare "cpu-def" "cpu-sl" "cpu-bare" "calls/s ratio def,sl | CPU ratio bare/def,bare/sl"
for r in $(seq "$ROUNDS"); do
	for c in 1 16 64; do
		read -r d dc <<<"$(run "$DEFAULT" "$DEFAULT_PID" "$c")"
		read -r b bc_ <<<"$(run "$BARE" "$BARE_PID" "$c")"
		read -r s sc <<<"$(run "$STATELESS" "$STATELESS_PID" "$c")"
		printf '%-5s %-5s | %9.0f %9.0f %9.0f | %7.0fµ %7.0fµ %7.0fµ | %.2f %.2f | %.2f %.2f\n' "$r" "$c" "$d" "$s" "$b" "$dc" "$sc" "$bc_" \
			"$(echo "$d / $b" | bc -l)" "$(echo "$s / $b" | bc -l)" "$(echo "$bc_ / $dc" | bc -l)" "$(echo "$bc_ / $sc" | bc -l)"
	done
done
