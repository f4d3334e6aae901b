#!/usr/bin/env bash
# Builds every install artefact of issue 10 offline and drives each install
# path that runs on this machine through the official TypeScript SDK client
# over stdio (e2e/stdio-client.mjs):
#   1. release archives: linux/darwin/windows × amd64/arm64, CGO_ENABLED=0,
#      -trimpath, stripped, version/commit/date in `version`; checksums.txt;
#      every target checked (format, arch, static), linux/amd64 driven;
#   2. npm: the launcher package and the six platform packages packed with
#      `npm pack`, installed from the tarballs into a temp prefix with the
#      registry pointed at a closed port, `npx cryptopay-mcp` driven, exit
#      status and signal forwarding checked;
#   3. container image: Dockerfile built with buildah (Debian package; vfs
#      storage, chroot isolation, no daemon), its filesystem and config
#      checked, the server driven inside it and `doctor` run as its user;
#   4. server.json rendered for this version (mcpb sha256s filled in) and
#      validated against the vendored registry schema;
#   5. MCP Bundles: mcpb/manifest.json validated and packed per target with
#      the pinned @anthropic-ai/mcpb CLI, the linux-x64 bundle unpacked and
#      driven.
# SHIP_OUT=dir keeps the output (default: a temp dir, removed); VERSION
# overrides the snapshot version. Needs Go, Node/npm (registry access for
# the pinned tools only) and apt for buildah, zip, procps and curl. Runs as
# root, as CI does (buildah with vfs storage; no container engine needed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KEEP=${SHIP_OUT:-}
OUT=${SHIP_OUT:-$(mktemp -d)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
PIDS=()
PASSED=0
ok() { PASSED=$((PASSED + 1)); echo "ok: $*"; }
cleanup() {
	status=$?
	if [ $status -ne 0 ]; then echo "ship: $PASSED passed, 1 failed" >&2; fi
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	if [ -n "${BUILDAH_CTR:-}" ]; then buildah_ rm "$BUILDAH_CTR" >/dev/null 2>&1 || true; fi
	chmod -R u+w "$WORK" 2>/dev/null || true
	rm -rf "$WORK"
	if [ -z "$KEEP" ]; then rm -rf "$OUT"; fi
}
trap cleanup EXIT
T0=$SECONDS
step() { echo "== ship: $* ($((SECONDS - T0)) s)"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v zip >/dev/null || need+=(zip)
command -v unzip >/dev/null || need+=(unzip)
command -v pgrep >/dev/null || need+=(procps)
command -v curl >/dev/null || need+=(curl)
[ -s /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
if [ ${#need[@]} -gt 0 ]; then
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
DATE=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION=${VERSION:-0.0.0-snapshot.g$(git rev-parse --short=12 HEAD 2>/dev/null || echo 0)}
echo "version $VERSION, commit $COMMIT, date $DATE, output $OUT"

# ---------------------------------------------------------------- 1. archives
step "build 6 targets"
TARGETS="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"
LDFLAGS="-s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE"
mkdir -p "$OUT/dist" "$WORK/bin"
for t in $TARGETS; do
	os=${t%/*} arch=${t#*/} exe=cryptopay-mcp
	[ "$os" = windows ] && exe=cryptopay-mcp.exe
	dir="$WORK/bin/${os}_$arch"
	mkdir -p "$dir"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$LDFLAGS" -o "$dir/$exe" ./cmd/cryptopay-mcp
	stage="$WORK/stage/cryptopay-mcp_${VERSION}_${os}_$arch"
	mkdir -p "$stage"
	cp "$dir/$exe" README.md LICENSE "$stage/"
	if [ "$os" = windows ]; then
		(cd "$WORK/stage" && zip -qr -X "$OUT/dist/cryptopay-mcp_${VERSION}_${os}_$arch.zip" "$(basename "$stage")")
	else
		tar -C "$WORK/stage" --owner=0 --group=0 --numeric-owner --mtime="$DATE" -czf \
			"$OUT/dist/cryptopay-mcp_${VERSION}_${os}_$arch.tar.gz" "$(basename "$stage")"
	fi
done
(cd "$OUT/dist" && sha256sum -- *.tar.gz *.zip >checksums.txt)
ls -l "$OUT/dist"

step "check the archives (format, arch, static, checksums)"
CRYPTOPAY_SHIP_DIR=$OUT CRYPTOPAY_SHIP_VERSION=$VERSION go test -count=1 -run 'TestDist$' ./internal/release/
ok "6 archives: format, arch, version, static linux, LICENSE and README, checksums.txt"

step "linux/amd64 from its archive: version and MCP over stdio"
mkdir -p "$WORK/x"
tar -C "$WORK/x" -xzf "$OUT/dist/cryptopay-mcp_${VERSION}_linux_amd64.tar.gz"
BIN="$WORK/x/cryptopay-mcp_${VERSION}_linux_amd64/cryptopay-mcp"
got=$("$BIN" --version)
want="cryptopay-mcp $VERSION (commit $COMMIT, built $DATE)"
[ "$got" = "$want" ] || { echo "--version: got '$got', want '$want'" >&2; exit 1; }
[ "$("$BIN" version)" = "$want" ] || { echo "version differs from --version" >&2; exit 1; }
ok "version and --version: $want"

if [ ! -d e2e/node_modules/@modelcontextprotocol/sdk ]; then
	(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
CLIENT="$ROOT/e2e/stdio-client.mjs"
CRYPTOPAY_DATA_DIR="$WORK/data-archive" node "$CLIENT" --label archive --version "$VERSION" -- "$BIN"
ok "the linux/amd64 archive's binary over stdio"

# --------------------------------------------------------------------- 2. npm
step "npm: pack the launcher and 6 platform packages"
NPMOUT="$OUT/npm"
mkdir -p "$NPMOUT" "$WORK/npm"
cp -r npm/cryptopay-mcp "$WORK/npm/cryptopay-mcp"
cp LICENSE "$WORK/npm/cryptopay-mcp/LICENSE"
for t in $TARGETS; do
	os=${t%/*} arch=${t#*/} exe=cryptopay-mcp
	nos=$os narch=$arch
	[ "$os" = windows ] && nos=win32 exe=cryptopay-mcp.exe
	[ "$arch" = amd64 ] && narch=x64
	p="$WORK/npm/$nos-$narch"
	mkdir -p "$p/bin"
	cp "$WORK/bin/${os}_$arch/$exe" "$p/bin/$exe"
	cp LICENSE "$p/LICENSE"
	cat >"$p/package.json" <<EOF
{
  "name": "@cryptopay-mcp/$nos-$narch",
  "version": "$VERSION",
  "description": "The cryptopay-mcp binary for $nos $narch (installed by the cryptopay-mcp package).",
  "license": "MIT",
  "repository": { "type": "git", "url": "git+https://github.com/cryptopay-mcp/cryptopay-mcp.git" },
  "os": ["$nos"],
  "cpu": ["$narch"],
  "files": ["bin/$exe", "LICENSE"],
  "preferUnplugged": true
}
EOF
done
# The launcher package at this version, its optional dependencies too.
node -e '
const fs = require("node:fs");
const [file, v] = process.argv.slice(1);
const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
pkg.version = v;
for (const k of Object.keys(pkg.optionalDependencies)) pkg.optionalDependencies[k] = v;
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
' "$WORK/npm/cryptopay-mcp/package.json" "$VERSION"
for p in "$WORK"/npm/*/; do
	(cd "$p" && npm pack --silent --pack-destination "$NPMOUT" >/dev/null)
done
ls -l "$NPMOUT"
[ "$(ls "$NPMOUT"/*.tgz | wc -l)" -eq 7 ] || { echo "want 7 npm tarballs" >&2; exit 1; }
for tgz in "$NPMOUT"/*.tgz; do
	tar -xzOf "$tgz" package/LICENSE | cmp -s - LICENSE || { echo "$(basename "$tgz") does not ship LICENSE" >&2; exit 1; }
	[ "$(tar -xzOf "$tgz" package/package.json | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).license')" = MIT ] ||
		{ echo "$(basename "$tgz"): package.json license is not MIT" >&2; exit 1; }
done
ok "7 npm tarballs packed, each with LICENSE and license MIT"

step "npm: install from the tarballs with no registry, drive npx cryptopay-mcp"
PREFIX="$WORK/prefix"
mkdir -p "$PREFIX"
echo '{"name":"ship-npx-test","version":"0.0.0","private":true}' >"$PREFIX/package.json"
# A closed port as the registry and offline: any fetch fails the install.
export npm_config_registry=http://127.0.0.1:9/ npm_config_offline=true npm_config_audit=false npm_config_fund=false \
	npm_config_update_notifier=false npm_config_cache="$WORK/npm-cache"
(cd "$PREFIX" && npm install --no-save --loglevel=error \
	"$NPMOUT/cryptopay-mcp-linux-x64-$VERSION.tgz" "$NPMOUT/cryptopay-mcp-$VERSION.tgz")
[ -x "$PREFIX/node_modules/@cryptopay-mcp/linux-x64/bin/cryptopay-mcp" ] || { echo "platform binary not installed" >&2; exit 1; }
CRYPTOPAY_DATA_DIR="$WORK/data-npx" node "$CLIENT" --label npx --version "$VERSION" --cwd "$PREFIX" -- npx --offline cryptopay-mcp
got=$(cd "$PREFIX" && npx --offline cryptopay-mcp --version)
[ "$got" = "$want" ] || { echo "npx --version: got '$got'" >&2; exit 1; }
ok "npx cryptopay-mcp over stdio, installed offline from the tarballs"
# The exit status is kept: a config error is 2, as from the binary.
set +e
(cd "$PREFIX" && BITNOVO_DEVICE_ID=not-a-uuid npx --offline cryptopay-mcp 2>"$WORK/npx-err")
rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'config: BITNOVO_DEVICE_ID' "$WORK/npx-err" || { echo "npx exit status $rc, want 2" >&2; cat "$WORK/npx-err" >&2; exit 1; }
# SIGTERM to the launcher alone reaches the server, which shuts down
# cleanly (status 0); the launcher exits with that status, leaving no process.
mkfifo "$WORK/stdin"
sleep 600 >"$WORK/stdin" &
PIDS+=($!)
CRYPTOPAY_DATA_DIR="$WORK/data-sig" node "$PREFIX/node_modules/cryptopay-mcp/bin/cryptopay-mcp.js" <"$WORK/stdin" 2>"$WORK/sig-err" &
launcher=$!
for _ in $(seq 50); do
	child=$(pgrep -P "$launcher" -x cryptopay-mcp || true)
	[ -n "$child" ] && grep -q 'cryptopay-mcp starting' "$WORK/sig-err" && break
	sleep 0.2
done
[ -n "$child" ] || { echo "the launcher did not start the binary" >&2; cat "$WORK/sig-err" >&2; exit 1; }
kill -TERM "$launcher"
set +e
wait "$launcher"
rc=$?
set -e
[ $rc -eq 0 ] || { echo "launcher exit status $rc after SIGTERM, want the server's 0" >&2; cat "$WORK/sig-err" >&2; exit 1; }
! kill -0 "$child" 2>/dev/null || { echo "the server outlived the launcher" >&2; exit 1; }
grep -q 'cryptopay-mcp stopped' "$WORK/sig-err" || { echo "the server did not shut down cleanly" >&2; cat "$WORK/sig-err" >&2; exit 1; }
unset npm_config_registry npm_config_offline npm_config_cache
ok "npm launcher: exit status kept (2), SIGTERM forwarded (the server stopped cleanly, the launcher exited 0)"

# ------------------------------------------------------------ 3. the image
step "container image: buildah bud (vfs, chroot isolation)"
buildah_() { buildah --root "$WORK/buildah/root" --runroot "$WORK/buildah/run" --storage-driver vfs "$@"; }
CTX="$OUT/docker/amd64"
mkdir -p "$CTX/data"
cp Dockerfile "$CTX/"
cp "$WORK/bin/linux_amd64/cryptopay-mcp" LICENSE "$CTX/"
CA=/etc/ssl/certs/ca-certificates.crt
[ -s "$CA" ] || { echo "no CA bundle at $CA (Debian: ca-certificates)" >&2; exit 1; }
cp "$CA" "$CTX/"
IMAGE=localhost/cryptopay-mcp:$VERSION
BUILDAH_ISOLATION=chroot buildah_ bud --quiet --layers=false -t "$IMAGE" "$CTX" >/dev/null
buildah_ inspect --type image --format '{{.OCIv1.Config.User}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Volumes}}|{{index .OCIv1.Config.Labels "io.modelcontextprotocol.server.name"}}|{{index .OCIv1.Config.Labels "org.opencontainers.image.licenses"}}' "$IMAGE" >"$WORK/cfg"
cat "$WORK/cfg"; echo
[ "$(cat "$WORK/cfg")" = "65532:65532|[/usr/local/bin/cryptopay-mcp]|map[/data:{}]|io.github.cryptopay-mcp/cryptopay-mcp|MIT" ] ||
	{ echo "unexpected image config" >&2; exit 1; }
BUILDAH_CTR=$(buildah_ from --quiet "$IMAGE")
MNT=$(buildah_ mount "$BUILDAH_CTR")
(cd "$MNT" && find . -mindepth 1 | sort) >"$WORK/files"
printf '%s\n' . ./data ./etc ./etc/ssl ./etc/ssl/certs ./etc/ssl/certs/ca-certificates.crt ./usr ./usr/local ./usr/local/bin \
	./usr/local/bin/cryptopay-mcp ./usr/share ./usr/share/doc ./usr/share/doc/cryptopay-mcp ./usr/share/doc/cryptopay-mcp/LICENSE |
	grep -v '^\.$' >"$WORK/want-files"
diff "$WORK/want-files" "$WORK/files" || { echo "unexpected image filesystem (no shell, nothing else)" >&2; exit 1; }
[ "$(stat -c %u:%g "$MNT/data")" = 65532:65532 ] || { echo "/data is not owned by the runtime user" >&2; exit 1; }
cmp -s "$MNT/usr/share/doc/cryptopay-mcp/LICENSE" LICENSE || { echo "the image does not ship LICENSE" >&2; exit 1; }
ok "image: config (user, entrypoint, volume, labels incl. licenses=MIT) and filesystem (binary, CA bundle, LICENSE, /data; no shell)"
step "container image: MCP over stdio and doctor inside it"
node "$CLIENT" --label image --version "$VERSION" -- \
	buildah --root "$WORK/buildah/root" --runroot "$WORK/buildah/run" --storage-driver vfs run --isolation chroot "$BUILDAH_CTR" /usr/local/bin/cryptopay-mcp
buildah_ run --isolation chroot "$BUILDAH_CTR" /usr/local/bin/cryptopay-mcp doctor >"$WORK/doctor.txt" 2>&1 ||
	{ cat "$WORK/doctor.txt" >&2; echo "doctor failed inside the image" >&2; exit 1; }
ok "image: the server over stdio inside it"
grep -q '✅ data dir: /data' "$WORK/doctor.txt" || { cat "$WORK/doctor.txt" >&2; exit 1; }
ok "image: doctor passes as user 65532 (data dir, store, fakes, webhook probe)"
step "container image: http mode as documented (0.0.0.0, bearer token), TypeScript SDK over Streamable HTTP"
# Probe the address the server binds (0.0.0.0), not loopback alone: a port
# free on 127.0.0.1 may be taken on another interface (issue 21).
PORT=$(node -e 'const s = require("node:net").createServer().listen(0, "0.0.0.0", () => { console.log(s.address().port); s.close(); })')
TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
# buildah itself (not a subshell) in the background, so the signal reaches it.
buildah --root "$WORK/buildah/root" --runroot "$WORK/buildah/run" --storage-driver vfs run --isolation chroot \
	--env MCP_HTTP_TOKEN="$TOKEN" "$BUILDAH_CTR" /usr/local/bin/cryptopay-mcp http --listen "0.0.0.0:$PORT" >"$WORK/http.log" 2>&1 &
HTTP_PID=$!
PIDS+=($HTTP_PID)
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
MCP_HTTP_TOKEN=$TOKEN node "$ROOT/e2e/client.mjs" "http://127.0.0.1:$PORT/mcp" || { cat "$WORK/http.log" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" -H 'Content-Type: application/json' -d '{}')
[ "$code" = 401 ] || { echo "http in the image without the token: HTTP $code, want 401" >&2; exit 1; }
# What `docker stop` does: SIGTERM to the container's process (buildah run
# itself would SIGKILL it). It is a descendant of buildah on this host.
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
server=""
for pid in $(descendants "$HTTP_PID"); do
	[ "$(ps -o comm= -p "$pid")" = cryptopay-mcp ] && server=$pid
done
[ -n "$server" ] || { echo "no server process under buildah run" >&2; exit 1; }
kill -TERM "$server"
wait "$HTTP_PID" || { echo "http mode in the image exited with $? after SIGTERM" >&2; cat "$WORK/http.log" >&2; exit 1; }
grep -q 'cryptopay-mcp stopped' "$WORK/http.log" || { echo "http mode did not shut down cleanly" >&2; cat "$WORK/http.log" >&2; exit 1; }
! grep -q "$TOKEN" "$WORK/http.log" || { echo "the token reached the log" >&2; exit 1; }
ok "image: http mode on 0.0.0.0 with MCP_HTTP_TOKEN (TS SDK client, 401 without the token, clean SIGTERM)"
buildah_ umount "$BUILDAH_CTR" >/dev/null
echo "image: $(buildah_ images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$IMAGE")"

# ------------------------------------------------------------ 5. MCP Bundles
step "mcpb: validate and pack one bundle per target (@anthropic-ai/mcpb, pinned)"
(cd npm/tools && npm ci --no-audit --no-fund --loglevel=error)
MCPB="$ROOT/npm/tools/node_modules/.bin/mcpb"
"$MCPB" validate mcpb/manifest.json
mkdir -p "$OUT/mcpb"
for t in $TARGETS; do
	os=${t%/*} arch=${t#*/} exe=cryptopay-mcp
	nos=$os narch=$arch
	[ "$os" = windows ] && nos=win32 exe=cryptopay-mcp.exe
	[ "$arch" = amd64 ] && narch=x64
	b="$WORK/mcpb/$nos-$narch"
	mkdir -p "$b/server"
	cp "$WORK/bin/${os}_$arch/$exe" "$b/server/$exe"
	cp LICENSE "$b/LICENSE"
	node -e '
const fs = require("node:fs");
const [src, dst, v, os] = process.argv.slice(1);
const m = JSON.parse(fs.readFileSync(src, "utf8"));
m.version = v;
m.compatibility.platforms = [os];
if (os === "win32") m.server.entry_point += ".exe";
else delete m.server.mcp_config.platform_overrides;
fs.writeFileSync(dst, JSON.stringify(m, null, 2) + "\n");
' mcpb/manifest.json "$b/manifest.json" "$VERSION" "$nos"
	"$MCPB" validate "$b/manifest.json" >/dev/null
	"$MCPB" pack "$b" "$OUT/mcpb/cryptopay-mcp-$VERSION-$nos-$narch.mcpb" >"$WORK/pack.log" 2>&1 || { cat "$WORK/pack.log" >&2; exit 1; }
done
(cd "$OUT/mcpb" && sha256sum -- *.mcpb >checksums.txt)
ok "6 MCP Bundles validated and packed"
ls -l "$OUT/mcpb"
step "mcpb: unpack the linux-x64 bundle and drive it as a client would"
"$MCPB" unpack "$OUT/mcpb/cryptopay-mcp-$VERSION-linux-x64.mcpb" "$WORK/unpacked" >/dev/null
cmp -s "$WORK/unpacked/LICENSE" LICENSE || { echo "the bundle does not ship LICENSE" >&2; exit 1; }
[ "$(node -pe 'require(process.argv[1]).license' "$WORK/unpacked/manifest.json")" = MIT ] || { echo "the bundle's license is not MIT" >&2; exit 1; }
# The command and env a client builds from the manifest, defaults filled in.
node -e '
const fs = require("node:fs");
const dir = process.argv[1];
const m = JSON.parse(fs.readFileSync(dir + "/manifest.json", "utf8"));
const sub = (s) => s.replace("${__dirname}", dir).replace(/\$\{user_config\.([a-z_]+)\}/g, (_, k) => String(m.user_config[k].default ?? ""));
const env = Object.entries(m.server.mcp_config.env).map(([k, v]) => `${k}=${sub(v)}`);
fs.writeFileSync(dir + "/.cmd", [sub(m.server.mcp_config.command), ...env].join("\n") + "\n");
' "$WORK/unpacked"
mapfile -t cmdline <"$WORK/unpacked/.cmd"
env "${cmdline[@]:1}" CRYPTOPAY_DATA_DIR="$WORK/data-mcpb" node "$CLIENT" --label mcpb --version "$VERSION" -- "${cmdline[0]}"
ok "the unpacked linux-x64 bundle (LICENSE, license MIT) over stdio, with the manifest's command and defaults"

# ------------------------------------------------------------ 4. server.json
step "server.json: render for $VERSION and validate against the registry schema"
node -e '
const fs = require("node:fs");
const crypto = require("node:crypto");
const [src, dst, v, dir] = process.argv.slice(1);
const doc = JSON.parse(fs.readFileSync(src, "utf8"));
const from = doc.version;
doc.version = v;
for (const p of doc.packages) {
  p.version = v;
  p.identifier = p.identifier.split(from).join(v);
  if (p.registryType === "mcpb") {
    const file = dir + "/" + p.identifier.split("/").pop();
    p.fileSha256 = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  }
}
fs.writeFileSync(dst, JSON.stringify(doc, null, 2) + "\n");
' server.json "$OUT/server.json" "$VERSION" "$OUT/mcpb"
CRYPTOPAY_SHIP_DIR=$OUT CRYPTOPAY_SHIP_VERSION=$VERSION go test -count=1 -run 'TestShipServerJSON$' ./internal/release/
ok "the release server.json is valid, at $VERSION, with the bundles' sha256"

echo "ship: archives, npm, image, server.json and mcpb built and checked in $((SECONDS - T0)) s"
echo "ship: $PASSED passed, 0 failed"
