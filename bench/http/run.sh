#!/usr/bin/env bash
# Throughput of a cached read (tools/call list_currencies_catalog) on the
# sessionless 2026-07-28 path of `cryptopay-mcp http`, against a bare go-sdk
# stateless server (bench/http/bare) that answers with the very same result
# bytes, at 1, 16 and 64 connections with wrk. See docs/benchmarks-http.md.
#
#   bash bench/http/run.sh [DURATION] [ROUNDS]     (defaults: 10s, 3)
#
# Servers and wrk share the machine; the two servers take turns (product,
# bare, product, bare ...) so that background load hits both alike.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-10s}
ROUNDS=${2:-3}
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

# product NAME [flags]: starts cryptopay-mcp http and sets URL.
product() {
	local name=$1
	shift
	env -i PATH="$PATH" HOME="$WORK" CRYPTOPAY_SANDBOX=true CRYPTOPAY_DATA_DIR="$WORK/data-$name" LOG_LEVEL=warn \
		"$WORK/cryptopay-mcp" http --listen 127.0.0.1:0 "$@" 2>"$WORK/$name.log" &
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
DEFAULT=$URL
product stateless --stateless
STATELESS=$URL

# The product's answer, recorded for the bare server (and warming the
# catalog cache).
body='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_currencies_catalog","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
hdr=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream" -H "Mcp-Protocol-Version: 2026-07-28"
	-H "Mcp-Method: tools/call" -H "Mcp-Name: list_currencies_catalog")
curl -sf "${hdr[@]}" -d "$body" "$DEFAULT" >"$WORK/answer.sse"
curl -sf "${hdr[@]}" -d "$body" "$STATELESS" >/dev/null
sed -n 's/^data: //p' "$WORK/answer.sse" | python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]; r.pop("resultType",None); json.dump(r,sys.stdout)' >"$WORK/result.json"
echo "result: $(wc -c <"$WORK/result.json") bytes; answer on the wire: $(wc -c <"$WORK/answer.sse") bytes"

"$WORK/bare" --listen 127.0.0.1:18090 --result "$WORK/result.json" &
PIDS+=($!)
BARE=http://127.0.0.1:18090/mcp
for _ in $(seq 50); do curl -sf "${hdr[@]}" -d "$body" "$BARE" >"$WORK/bare.sse" 2>/dev/null && break; sleep 0.1; done
echo "bare answer on the wire: $(wc -c <"$WORK/bare.sse") bytes"

rps() { # URL CONNECTIONS
	local threads=2
	[ "$2" -eq 1 ] && threads=1
	wrk -t"$threads" -c"$2" -d"$DUR" -s bench/http/toolcall.lua "$1" >"$WORK/wrk.out"
	if ! grep -q '^bad answers: 0$' "$WORK/wrk.out" || grep -q 'Non-2xx' "$WORK/wrk.out"; then
		cat "$WORK/wrk.out" >&2
		echo "wrk saw failed calls" >&2
		exit 1
	fi
	awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.out"
}
printf '%-6s %-5s %12s %12s %12s %8s %8s\n' round conns default stateless bare def/bare sl/bare
for r in $(seq "$ROUNDS"); do
	for c in 1 16 64; do
		d=$(rps "$DEFAULT" "$c")
		b=$(rps "$BARE" "$c")
		s=$(rps "$STATELESS" "$c")
		printf '%-6s %-5s %12s %12s %12s %8.2f %8.2f\n' "$r" "$c" "$d" "$s" "$b" "$(echo "$d / $b" | bc -l)" "$(echo "$s / $b" | bc -l)"
	done
done
