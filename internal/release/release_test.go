package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

const (
	schemaSHA256 = "058f5c14e1563de305c6b8e9038a1cf29dbdfca203f0ac85b2a118c9fa08ce44"
	schemaURL    = "https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json"
	serverName   = "io.github.cryptopay-mcp/cryptopay-mcp"
)

// root is the repository root (this package is internal/release).
const root = "../.."

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func registrySchema(t *testing.T) *jsonschema.Resolved {
	t.Helper()
	b := read(t, "internal/release/testdata/server.schema.json")
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != schemaSHA256 {
		t.Fatalf("testdata/server.schema.json sha256 %x is not the pinned %s (see doc.go)", sum, schemaSHA256)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// validateServerJSON checks doc against the registry schema and the rules
// the schema only describes.
func validateServerJSON(t *testing.T, rs *jsonschema.Resolved, doc map[string]any) {
	t.Helper()
	if err := rs.Validate(doc); err != nil {
		t.Fatalf("server.json is not valid against the registry schema: %v", err)
	}
	if doc["$schema"] != schemaURL {
		t.Errorf("$schema = %v, want %s", doc["$schema"], schemaURL)
	}
	if doc["name"] != serverName {
		t.Errorf("name = %v, want %s", doc["name"], serverName)
	}
	versionRange := regexp.MustCompile(`[\^~<>=*\s]|(^|\.)[xX](\.|$)|^latest$`)
	for _, p := range packages(doc) {
		if v, _ := p["version"].(string); versionRange.MatchString(v) {
			t.Errorf("%v %v: version %q must be one specific version", p["registryType"], p["identifier"], v)
		}
	}
}

func packages(doc map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := doc["packages"].([]any)
	for _, p := range list {
		if m, ok := p.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func TestServerJSONValid(t *testing.T) {
	rs := registrySchema(t)
	doc := decode(t, read(t, "server.json"))
	validateServerJSON(t, rs, doc)

	types := map[string]int{}
	transports := map[string]bool{}
	for _, p := range packages(doc) {
		types[p["registryType"].(string)]++
		transports[p["transport"].(map[string]any)["type"].(string)] = true
	}
	if types["npm"] != 1 || types["oci"] < 1 || types["mcpb"] != len(targets) {
		t.Errorf("packages by type %v: want one npm, the OCI image and one mcpb per target (%d)", types, len(targets))
	}
	if !transports["stdio"] || !transports["streamable-http"] {
		t.Errorf("transports %v: want stdio and streamable-http", transports)
	}
}

// The validator must refuse what the registry refuses, or the test above
// proves nothing.
func TestServerJSONSchemaRefuses(t *testing.T) {
	rs := registrySchema(t)
	tests := []struct {
		name string
		edit func(doc map[string]any)
	}{
		{"no version", func(d map[string]any) { delete(d, "version") }},
		{"name without a slash", func(d map[string]any) { d["name"] = "cryptopay-mcp" }},
		{"description over 100 characters", func(d map[string]any) { d["description"] = strings.Repeat("x", 101) }},
		{"npm version latest", func(d map[string]any) { packages(d)[0]["version"] = "latest" }},
		{"mcpb without a sha256", func(d map[string]any) { delete(packages(d)[len(packages(d))-1], "fileSha256") }},
		{"package without a transport", func(d map[string]any) { delete(packages(d)[0], "transport") }},
		{"unknown registry type", func(d map[string]any) { packages(d)[0]["registryType"] = "cargo" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := decode(t, read(t, "server.json"))
			tt.edit(doc)
			if err := rs.Validate(doc); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// readmeEnv is the README's environment table: variable → its Default
// cell, read at test time so a variable added there must be added here.
func readmeEnv(t *testing.T) (names []string, defaults map[string]string) {
	t.Helper()
	text := string(read(t, "README.md"))
	start := strings.Index(text, "## Environment variables")
	if start < 0 {
		t.Fatal("README.md has no Environment variables section")
	}
	text = text[start:]
	if end := strings.Index(text[3:], "\n## "); end > 0 {
		text = text[:end+3]
	}
	defaults = map[string]string{}
	varName := regexp.MustCompile("`([A-Z][A-Z0-9_]+)`")
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) < 3 {
			t.Fatalf("README env row %q has fewer than 3 cells", line)
		}
		for _, m := range varName.FindAllStringSubmatch(cells[0], -1) {
			names = append(names, m[1])
			defaults[m[1]] = strings.TrimSpace(cells[1])
		}
	}
	if len(names) < 20 {
		t.Fatalf("found only %d variables in the README table", len(names))
	}
	return names, defaults
}

// isSecretName is what must be marked isSecret: credentials and the
// database URL (it carries a password).
func isSecretName(n string) bool {
	switch n {
	case "BITNOVO_DEVICE_ID", "CRYPTOPAY_DATABASE_URL":
		return true
	}
	return strings.HasSuffix(n, "_TOKEN") || strings.HasSuffix(n, "_SECRET") || strings.HasSuffix(n, "_AUTHTOKEN")
}

func TestServerJSONEnvMatchesREADME(t *testing.T) {
	names, defaults := readmeEnv(t)
	doc := decode(t, read(t, "server.json"))
	literal := regexp.MustCompile("^`([^`]*)`$")
	for _, p := range packages(doc) {
		if p["registryType"] == "mcpb" {
			continue // the bundle's manifest asks for its settings (TestMCPBManifest)
		}
		label := p["registryType"].(string) + " " + p["transport"].(map[string]any)["type"].(string)
		var got []string
		list, _ := p["environmentVariables"].([]any)
		for _, raw := range list {
			e := raw.(map[string]any)
			n, _ := e["name"].(string)
			got = append(got, n)
			if d, _ := e["description"].(string); len(d) < 10 {
				t.Errorf("%s: %s has no description", label, n)
			}
			secret, ok := e["isSecret"].(bool)
			if !ok {
				t.Errorf("%s: %s does not say isSecret", label, n)
			}
			if secret != isSecretName(n) {
				t.Errorf("%s: %s isSecret = %v, want %v", label, n, secret, isSecretName(n))
			}
			want := ""
			if m := literal.FindStringSubmatch(defaults[n]); m != nil {
				want = m[1]
			}
			if d, _ := e["default"].(string); d != want {
				t.Errorf("%s: %s default %q, README says %q", label, n, d, defaults[n])
			}
		}
		for _, n := range names {
			if !slices.Contains(got, n) {
				t.Errorf("%s: README variable %s is missing from server.json", label, n)
			}
		}
		for _, n := range got {
			if _, ok := defaults[n]; !ok {
				t.Errorf("%s: server.json variable %s is not in the README table", label, n)
			}
		}
	}
}

// targets are the release builds: GOOS/GOARCH, npm's platform-arch.
var targets = []struct{ goos, goarch, npm string }{
	{"darwin", "arm64", "darwin-arm64"},
	{"darwin", "amd64", "darwin-x64"},
	{"linux", "arm64", "linux-arm64"},
	{"linux", "amd64", "linux-x64"},
	{"windows", "arm64", "win32-arm64"},
	{"windows", "amd64", "win32-x64"},
}

func TestNPMPackages(t *testing.T) {
	pkg := decode(t, read(t, "npm/cryptopay-mcp/package.json"))
	if pkg["name"] != "cryptopay-mcp" || pkg["mcpName"] != serverName {
		t.Errorf("name %v, mcpName %v", pkg["name"], pkg["mcpName"])
	}
	server := decode(t, read(t, "server.json"))
	if pkg["version"] != server["version"] {
		t.Errorf("npm version %v, server.json %v", pkg["version"], server["version"])
	}
	opt, _ := pkg["optionalDependencies"].(map[string]any)
	launcher := string(read(t, "npm/cryptopay-mcp/bin/cryptopay-mcp.js"))
	if len(opt) != len(targets) {
		t.Errorf("%d optional dependencies, want %d", len(opt), len(targets))
	}
	for _, tg := range targets {
		name := "@cryptopay-mcp/" + tg.npm
		if opt[name] != pkg["version"] {
			t.Errorf("optionalDependencies[%s] = %v, want the package's version %v", name, opt[name], pkg["version"])
		}
		key := strings.Replace(tg.npm, "-", " ", 1)
		if !strings.Contains(launcher, `"`+key+`": "`+name+`"`) {
			t.Errorf("the launcher does not map %q to %s", key, name)
		}
	}
	if !strings.HasPrefix(launcher, "#!/usr/bin/env node\n") || strings.Contains(launcher, "console.log") || strings.Contains(launcher, "process.stdout") {
		t.Error("the launcher must be a node script that never writes to stdout (the MCP channel)")
	}
}

func TestMCPBManifest(t *testing.T) {
	m := decode(t, read(t, "mcpb/manifest.json"))
	_, defaults := readmeEnv(t)
	server := decode(t, read(t, "server.json"))
	if m["version"] != server["version"] {
		t.Errorf("manifest version %v, server.json %v", m["version"], server["version"])
	}
	srv := m["server"].(map[string]any)
	if srv["type"] != "binary" || srv["entry_point"] != "server/cryptopay-mcp" {
		t.Errorf("server %v: want a binary at server/cryptopay-mcp", srv)
	}
	env := srv["mcp_config"].(map[string]any)["env"].(map[string]any)
	uc := m["user_config"].(map[string]any)
	ref := regexp.MustCompile(`^\$\{user_config\.([a-z_]+)\}$`)
	used := map[string]string{} // user_config key → env var
	for name, v := range env {
		if _, ok := defaults[name]; !ok {
			t.Errorf("env %s is not a variable of the README table", name)
		}
		mm := ref.FindStringSubmatch(v.(string))
		if mm == nil {
			t.Errorf("env %s = %v, want ${user_config.KEY}", name, v)
			continue
		}
		if _, ok := uc[mm[1]]; !ok {
			t.Errorf("env %s uses user_config.%s, which is not declared", name, mm[1])
		}
		used[mm[1]] = name
	}
	for key, raw := range uc {
		opt := raw.(map[string]any)
		name, ok := used[key]
		if !ok {
			t.Errorf("user_config.%s is not passed to the server", key)
			continue
		}
		if sensitive, _ := opt["sensitive"].(bool); sensitive != isSecretName(name) {
			t.Errorf("user_config.%s (%s): sensitive = %v, want %v", key, name, sensitive, isSecretName(name))
		}
		if req, _ := opt["required"].(bool); req {
			t.Errorf("user_config.%s is required: the bundle must start in sandbox mode unconfigured", key)
		}
		// The bundle's default is the server's own default.
		want := strings.Trim(defaults[name], "`")
		if defaults[name] == "—" {
			want = ""
		}
		if got := jsonText(opt["default"]); got != want {
			t.Errorf("user_config.%s default %q, README says %s = %q", key, got, name, want)
		}
	}
	for _, need := range []string{"BITNOVO_DEVICE_ID", "BITNOVO_DEVICE_SECRET", "BITNOVO_BASE_URL", "SHOP_PURCHASES_ENABLED", "SHOP_MAX_ORDER_EUR", "SHOP_DAILY_LIMIT_EUR"} {
		if _, ok := env[need]; !ok {
			t.Errorf("the bundle does not ask for %s", need)
		}
	}
}

func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// dockerfile is the final stage of the Dockerfile: instruction → its
// arguments, in order.
func dockerfile(t *testing.T) (base string, lines [][2]string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(read(t, "Dockerfile")))
	var cont string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cont = cont+line, ""
		instr, args, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		if instr == "FROM" {
			base, lines = strings.Fields(args)[0], nil // a new stage
			continue
		}
		lines = append(lines, [2]string{instr, strings.TrimSpace(args)})
	}
	return base, lines
}

func TestDockerfile(t *testing.T) {
	base, lines := dockerfile(t)
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want scratch or distroless/static", base)
	}
	var user, entrypoint string
	var copies, volumes, envs, labels []string
	for _, l := range lines {
		switch l[0] {
		case "RUN":
			t.Errorf("RUN %s: the final stage has no shell", l[1])
		case "USER":
			user = l[1]
		case "ENTRYPOINT", "CMD":
			if l[0] == "ENTRYPOINT" {
				entrypoint = l[1]
			}
			if !strings.HasPrefix(l[1], "[") {
				t.Errorf("%s %s: shell form needs /bin/sh; use the exec form", l[0], l[1])
			}
		case "COPY":
			copies = append(copies, l[1])
		case "VOLUME":
			volumes = append(volumes, l[1])
		case "ENV":
			envs = append(envs, strings.Fields(l[1])...)
		case "LABEL":
			labels = append(labels, l[1])
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" || strings.Trim(uid, "0123456789") != "" {
		t.Errorf("USER %q: want a numeric non-root uid (a name needs /etc/passwd)", user)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) == 0 || !strings.HasSuffix(ep[0], "/cryptopay-mcp") {
		t.Errorf("ENTRYPOINT %s: want [\".../cryptopay-mcp\"]", entrypoint)
	}
	for _, want := range []string{
		`io.modelcontextprotocol.server.name="` + serverName + `"`, // the registry's OCI ownership check
		`org.opencontainers.image.licenses="MIT"`,
	} {
		if !slices.Contains(labels, want) {
			t.Errorf("LABELs %q: want %s", labels, want)
		}
	}
	want := map[string]bool{
		"ca-certificates.crt /etc/ssl/certs/ca-certificates.crt": false,
		"LICENSE /usr/share/doc/cryptopay-mcp/LICENSE":           false,
		"--chown=" + user + " data/ /data/":                      false,
	}
	if len(ep) > 0 {
		want["cryptopay-mcp "+ep[0]] = false
	}
	for _, c := range copies {
		if _, ok := want[c]; ok {
			want[c] = true
		}
	}
	for c, seen := range want {
		if !seen {
			t.Errorf("no COPY %s", c)
		}
	}
	if !slices.ContainsFunc(volumes, func(v string) bool { return strings.Contains(v, `"/data"`) || v == "/data" }) {
		t.Errorf("VOLUME %v: want /data", volumes)
	}
	if !slices.Contains(envs, "CRYPTOPAY_DATA_DIR=/data") {
		t.Errorf("ENV %v: want CRYPTOPAY_DATA_DIR=/data", envs)
	}
	if !strings.Contains(string(read(t, "Dockerfile")), " http --listen 0.0.0.0:") {
		t.Error("the Dockerfile does not document http mode")
	}
}

// checkStatic fails unless path is an ELF executable with no interpreter
// and no dynamic section: it runs on an empty (scratch) filesystem.
func checkStatic(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: machine %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: has %v: it needs a dynamic loader that scratch does not have", path, p.Type)
		}
	}
	if f.Section(".dynamic") != nil || f.Section(".interp") != nil {
		t.Errorf("%s: has a dynamic section", path)
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: links %v", path, libs)
	}
}

// The image's binary is the linux one built with CGO_ENABLED=0: it must be
// static. (The release binaries themselves are checked by TestDist.)
func TestStaticLinuxBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out := filepath.Join(t.TempDir(), "cryptopay-mcp")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/cryptopay-mcp")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if machine == 0 {
		t.Skipf("no ELF machine for %s", runtime.GOARCH)
	}
	checkStatic(t, out, machine)
}

// TestLicense: the project is MIT (issue 21). LICENSE says so, and every
// manifest that describes a published artefact names it: the npm launcher,
// the platform packages ship.sh writes, the MCP Bundle and server.json.
// ship.sh and TestDist check that the file itself is in every archive,
// tarball, image and bundle.
func TestLicense(t *testing.T) {
	lic := string(read(t, "LICENSE"))
	for _, want := range []string{"MIT License\n", "Copyright (c) 2026 cryptopay-mcp contributors\n", "THE SOFTWARE IS PROVIDED \"AS IS\""} {
		if !strings.Contains(lic, want) {
			t.Errorf("LICENSE lacks %q", want)
		}
	}
	for _, path := range []string{"npm/cryptopay-mcp/package.json", "npm/tools/package.json", "mcpb/manifest.json", "e2e/package.json"} {
		if got := decode(t, read(t, path))["license"]; got != "MIT" {
			t.Errorf("%s: license %v, want MIT", path, got)
		}
	}
	meta, _ := decode(t, read(t, "server.json"))["_meta"].(map[string]any)
	pub, _ := meta["io.modelcontextprotocol.registry/publisher-provided"].(map[string]any)
	if pub["license"] != "MIT" {
		t.Errorf("server.json _meta publisher-provided license %v, want MIT (the schema has no license field)", pub["license"])
	}
	ship := string(read(t, ".ci/ship.sh"))
	if strings.Contains(ship, "UNLICENSED") || !strings.Contains(ship, `"license": "MIT"`) {
		t.Error(".ci/ship.sh writes the platform packages without license MIT")
	}
	if files, _ := decode(t, read(t, "npm/cryptopay-mcp/package.json"))["files"].([]any); !slices.Contains(files, any("LICENSE")) {
		t.Errorf("npm/cryptopay-mcp files %v: want LICENSE (ship.sh copies it in)", files)
	}
}

// TestSecurityPolicy: SECURITY.md says how to report privately, what is in
// scope and which versions get fixes.
func TestSecurityPolicy(t *testing.T) {
	sec := string(read(t, "SECURITY.md"))
	for _, want := range []string{"security/advisories/new", "## Scope", "Webhooks", "OAuth", "Spending limits", "gift-card codes", "## Supported versions"} {
		if !strings.Contains(sec, want) {
			t.Errorf("SECURITY.md lacks %q", want)
		}
	}
}
