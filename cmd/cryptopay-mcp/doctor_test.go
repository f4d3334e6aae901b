package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDoctor(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		tenants  string // a tenants file's body, written and named in CRYPTOPAY_TENANTS_FILE
		code     int
		stdout   []string
		stderr   string
		failures []string // names of the checks that fail (--json runs)
	}{
		{name: "sandbox passes", args: []string{"doctor"}, code: exitOK,
			stdout: []string{"✅ config: sandbox mode", "✅ bitnovo:", "✅ webhook URL: a signed probe", "doctor: everything checked is fine"}},
		{name: "sandbox json", args: []string{"doctor", "--json"}, code: exitOK, failures: []string{}},
		{name: "bad config", args: []string{"doctor"}, env: map[string]string{"BITNOVO_DEVICE_ID": "nope"}, code: exitConfig,
			stderr: "cryptopay-mcp: config: BITNOVO_DEVICE_ID: must be a UUID"},
		{name: "bad config json", args: []string{"doctor", "--json"}, env: map[string]string{"BITNOVO_DEVICE_ID": "nope"}, code: exitConfig,
			stdout: []string{`"name": "config"`, "BITNOVO_DEVICE_ID: must be a UUID"}, failures: []string{"config"}},
		{name: "unreachable Bitnovo and Bitrefill", args: []string{"doctor", "--json"}, code: exitFail,
			env: map[string]string{
				"BITNOVO_DEVICE_ID": "11111111-2222-4333-8444-555555555555", "BITNOVO_BASE_URL": closed,
				"BITREFILL_API_URL": closed + "/v2", "BITREFILL_PUBLIC_API_URL": closed + "/api", "API_TIMEOUT": "1000",
			},
			failures: []string{"bitnovo", "bitrefill"}},
		{name: "unknown flag", args: []string{"doctor", "--nope"}, code: exitConfig},
		{name: "tenants in the sandbox", args: []string{"doctor"}, code: exitOK,
			tenants: "tenants:\n  - id: acme\n  - id: globex\n", env: map[string]string{"CRYPTOPAY_SANDBOX": "true"},
			stdout: []string{"2 tenants picked by the \"sub\" claim", "✅ tenant acme: store: SQLite in ", "tenants/acme/cryptopay.db",
				"✅ tenant globex: bitnovo:", "✅ tenant globex: bitrefill:", "✅ webhook URL: a signed probe", "doctor: everything checked is fine"}},
		{name: "tenants with an unreachable Bitnovo", args: []string{"doctor", "--json"}, code: exitFail,
			tenants: "tenants:\n  - id: acme\n    bitnovo_device_id: 11111111-2222-4333-8444-555555555555\n" +
				"  - id: globex\n    bitnovo_device_id: 11111111-2222-4333-8444-666666666666\n",
			env: map[string]string{"BITNOVO_BASE_URL": closed, "BITREFILL_API_URL": closed + "/v2",
				"BITREFILL_PUBLIC_API_URL": closed + "/api", "API_TIMEOUT": "1000"},
			failures: []string{"tenant acme: bitnovo", "tenant acme: bitrefill", "tenant globex: bitnovo", "tenant globex: bitrefill"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t, t.TempDir())
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.tenants != "" {
				file := filepath.Join(t.TempDir(), "tenants.yaml")
				if err := os.WriteFile(file, []byte(tt.tenants), 0o600); err != nil {
					t.Fatal(err)
				}
				env["CRYPTOPAY_TENANTS_FILE"] = file
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, nil, &stdout, &stderr, func(k string) string { return env[k] })
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, &stdout, &stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, &stdout)
				}
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, &stderr)
			}
			if tt.failures == nil {
				return
			}
			var rep struct {
				OK     bool `json:"ok"`
				Checks []struct{ Name, Status, Fix string }
			}
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("--json output: %v\n%s", err, &stdout)
			}
			var failed []string
			for _, c := range rep.Checks {
				if c.Status == "fail" {
					failed = append(failed, c.Name)
					if c.Fix == "" {
						t.Errorf("%s failed without a fix", c.Name)
					}
				}
			}
			if strings.Join(failed, ",") != strings.Join(tt.failures, ",") || rep.OK != (len(failed) == 0) {
				t.Errorf("failed checks %v (ok %v), want %v\n%s", failed, rep.OK, tt.failures, &stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		var stdout bytes.Buffer
		if code := run(context.Background(), []string{arg}, nil, &stdout, &bytes.Buffer{}, func(string) string { return "" }); code != exitOK {
			t.Fatalf("%s: exit %d", arg, code)
		}
		if !strings.HasPrefix(stdout.String(), "cryptopay-mcp ") {
			t.Errorf("%s: %q", arg, &stdout)
		}
	}
}
