package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr/qrtest"
)

// binPath is the cryptopay-mcp binary built once for every test here.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cryptopay-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "cryptopay-mcp")
	// Built as the README and the release archives build it: static, pure Go.
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binary:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a child's stderr safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// baseEnv is a minimal environment: no credentials leak in from the host.
func baseEnv(t testing.TB, dataDir string) map[string]string {
	t.Helper()
	return map[string]string{
		"PATH":               os.Getenv("PATH"),
		"HOME":               t.TempDir(),
		"CRYPTOPAY_DATA_DIR": dataDir,
		"LOG_LEVEL":          "debug",
	}
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

type server struct {
	schemas map[string]*jsonschema.Resolved // output schema per tool
	session *mcp.ClientSession
	stderr  *syncBuffer
	cmd     *exec.Cmd
}

// startServer launches the binary and connects the Go SDK client over stdio.
func startServer(t testing.TB, env map[string]string, args ...string) *server {
	t.Helper()
	return startServerWith(t, nil, env, args...)
}

// startServerWith is startServer with client options (e.g. an elicitation handler).
func startServerWith(t testing.TB, opts *mcp.ClientOptions, env map[string]string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = envList(env)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "0"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr:\n%s", err, stderr.String())
	}
	return newServer(ctx, t, session, stderr, cmd)
}

// newServer wraps a connected session (any transport) and loads every
// tool's output schema, against which s.ok validates structuredContent.
func newServer(ctx context.Context, t testing.TB, session *mcp.ClientSession, stderr *syncBuffer, cmd *exec.Cmd) *server {
	t.Helper()
	s := &server{session: session, stderr: stderr, cmd: cmd, schemas: map[string]*jsonschema.Resolved{}}
	t.Cleanup(func() { s.close(t) })
	list, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	for _, tool := range list.Tools {
		b, _ := json.Marshal(tool.OutputSchema)
		var sch jsonschema.Schema
		if err := json.Unmarshal(b, &sch); err != nil {
			t.Fatalf("%s output schema: %v", tool.Name, err)
		}
		r, err := sch.Resolve(nil)
		if err != nil {
			t.Fatalf("%s output schema: %v", tool.Name, err)
		}
		s.schemas[tool.Name] = r
	}
	return s
}

func (s *server) close(t testing.TB) {
	if s.session == nil {
		return
	}
	_ = s.session.Close()
	s.session = nil
	if strings.Contains(s.stderr.String(), "panic") || strings.Contains(s.stderr.String(), "goroutine ") {
		t.Errorf("server stderr shows a panic:\n%s", s.stderr.String())
	}
}

func (s *server) call(t testing.TB, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v\nstderr:\n%s", name, err, s.stderr.String())
	}
	return res
}

// ok calls a tool, requires success and decodes structuredContent into out.
func (s *server) ok(t testing.TB, name string, args map[string]any, out any) *mcp.CallToolResult {
	t.Helper()
	res := s.call(t, name, args)
	if res.IsError {
		t.Fatalf("%s(%v) failed: %s", name, args, text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: decode structuredContent %s: %v", name, b, err)
	}
	// A strict client (the TypeScript SDK) rejects results that do not
	// match the advertised output schema.
	var generic any
	_ = json.Unmarshal(b, &generic)
	if err := s.schemas[name].Validate(generic); err != nil {
		t.Fatalf("%s: structuredContent does not match the output schema: %v", name, err)
	}
	return res
}

type toolError struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
	Sandbox bool `json:"sandbox"`
}

// fail calls a tool, requires an isError result and returns its envelope.
func (s *server) fail(t testing.TB, name string, args map[string]any) toolError {
	t.Helper()
	res := s.call(t, name, args)
	if !res.IsError {
		t.Fatalf("%s(%v) succeeded, want an error: %s", name, args, text(res))
	}
	var e toolError
	if err := json.Unmarshal([]byte(text(res)), &e); err != nil || e.Error.Code == "" {
		t.Fatalf("%s: error is not a {\"error\":{code,message}} envelope: %s (%v)", name, text(res), err)
	}
	return e
}

func text(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}

func images(res *mcp.CallToolResult) [][]byte {
	var out [][]byte
	for _, c := range res.Content {
		if ic, ok := c.(*mcp.ImageContent); ok {
			out = append(out, ic.Data)
		}
	}
	return out
}

// decodeQR reads a PNG QR code back as a phone scanner does, failing the
// test if it cannot: gozxing without TryHarder, one attempt, and ZBar when
// zbarimg is installed (required with CRYPTOPAY_REQUIRE_QR_DECODERS, as in
// CI). internal/payments's decode matrix covers every code in depth.
func decodeQR(t *testing.T, pngBytes []byte) (text string, width, height int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("decode PNG: %v", err)
	}
	b := img.Bounds()
	text, err = qrtest.GoZXing(img, false)
	if err != nil {
		t.Fatalf("QR does not decode: %v", err)
	}
	if zerr := qrtest.ZBarAvailable(); zerr != nil {
		if os.Getenv(qrtest.RequireEnv) != "" {
			t.Fatal(zerr)
		}
		return text, b.Dx(), b.Dy()
	}
	path := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(path, pngBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := qrtest.ZBar(t.Context(), []string{path}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := got[path]; len(r.Texts) != 1 || r.Texts[0] != text {
		t.Fatalf("ZBar read %q (%s), gozxing %q", r.Texts, r.Err, text)
	}
	return text, b.Dx(), b.Dy()
}

// dataURLBytes decodes a "data:image/png;base64,..." string.
func dataURLBytes(t *testing.T, s string) []byte {
	t.Helper()
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(s, prefix) {
		t.Fatalf("not a PNG data URL: %.40q", s)
	}
	b, err := decodeBase64(s[len(prefix):])
	if err != nil {
		t.Fatalf("data URL: %v", err)
	}
	return b
}

// liveFake starts an in-process fake Bitnovo API the binary can use in live
// mode, so tests can inject faults and count requests.
func liveFake(t testing.TB, deviceID string, o fakebitnovo.Options) (*fakebitnovo.Server, string) {
	t.Helper()
	o.DeviceID = deviceID
	fake := fakebitnovo.New(o)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
