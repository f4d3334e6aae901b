package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	goodID     = "12345678-abcd-4ef0-9abc-1234567890ab"
	goodSecret = "02d4b921007cad413e79731dd02b3267cd43a14d150a0ae6a1c651942122bb62"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadModes(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		flags   Flags
		mode    Mode
		baseURL string
	}{
		{"no device id is sandbox", map[string]string{"HOME": "/h"}, Flags{}, ModeSandbox, ""},
		{"device id is live with default base", map[string]string{"HOME": "/h", "BITNOVO_DEVICE_ID": goodID}, Flags{}, ModeLive, DefaultBaseURL},
		{"explicit sandbox wins", map[string]string{"HOME": "/h", "BITNOVO_DEVICE_ID": goodID, "CRYPTOPAY_SANDBOX": "true"}, Flags{}, ModeSandbox, ""},
		{"sandbox flag wins", map[string]string{"HOME": "/h", "BITNOVO_DEVICE_ID": goodID}, Flags{Sandbox: true}, ModeSandbox, ""},
		{"loopback http allowed", map[string]string{"HOME": "/h", "BITNOVO_DEVICE_ID": goodID, "BITNOVO_BASE_URL": "http://127.0.0.1:8080/"}, Flags{}, ModeLive, "http://127.0.0.1:8080"},
		{"localhost http allowed", map[string]string{"HOME": "/h", "BITNOVO_DEVICE_ID": goodID, "BITNOVO_BASE_URL": "http://localhost:9"}, Flags{}, ModeLive, "http://localhost:9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env), tt.flags)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Mode != tt.mode || c.BaseURL != tt.baseURL {
				t.Fatalf("mode=%s base=%q, want %s %q", c.Mode, c.BaseURL, tt.mode, tt.baseURL)
			}
		})
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings, one per expected line
	}{
		{"bad uuid", map[string]string{"BITNOVO_DEVICE_ID": "not-a-uuid"}, []string{"BITNOVO_DEVICE_ID: must be a UUID"}},
		{"plain http remote", map[string]string{"BITNOVO_DEVICE_ID": goodID, "BITNOVO_BASE_URL": "http://pos.bitnovo.com"}, []string{"BITNOVO_BASE_URL: \"http://pos.bitnovo.com\" uses plain http"}},
		{"ftp scheme", map[string]string{"BITNOVO_DEVICE_ID": goodID, "BITNOVO_BASE_URL": "ftp://x"}, []string{"must start with https://"}},
		{"relative url", map[string]string{"BITNOVO_DEVICE_ID": goodID, "BITNOVO_BASE_URL": "pos.bitnovo.com"}, []string{"not an absolute URL"}},
		{"short secret", map[string]string{"BITNOVO_DEVICE_SECRET": "abc"}, []string{"BITNOVO_DEVICE_SECRET: must be exactly 64 hexadecimal characters (got 3"}},
		{"non-hex secret", map[string]string{"BITNOVO_DEVICE_SECRET": strings.Repeat("g", 64)}, []string{"64 hexadecimal"}},
		{"bad level", map[string]string{"CRYPTOPAY_LOG_LEVEL": "loud"}, []string{"CRYPTOPAY_LOG_LEVEL"}},
		{"bad timeout", map[string]string{"API_TIMEOUT": "fast"}, []string{"API_TIMEOUT"}},
		{"retries out of range", map[string]string{"MAX_RETRIES": "9"}, []string{"MAX_RETRIES"}},
		{"bad sandbox bool", map[string]string{"CRYPTOPAY_SANDBOX": "maybe"}, []string{"CRYPTOPAY_SANDBOX"}},
		{"several at once", map[string]string{"BITNOVO_DEVICE_ID": "x", "BITNOVO_DEVICE_SECRET": "y", "MAX_RETRIES": "-1"}, []string{"BITNOVO_DEVICE_ID", "BITNOVO_DEVICE_SECRET", "MAX_RETRIES"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["HOME"] = "/h"
			_, err := Load(env(tt.env), Flags{})
			if err == nil {
				t.Fatal("Load succeeded, want problems")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d lines %q, want %d", len(lines), lines, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
				}
			}
		})
	}
}

func TestDefaultsAndOverrides(t *testing.T) {
	c, err := Load(env(map[string]string{"HOME": "/home/u", "BITNOVO_DEVICE_ID": goodID, "BITNOVO_DEVICE_SECRET": goodSecret}), Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if c.APITimeout != 5*time.Second || c.MaxRetries != 2 || c.RetryDelay != time.Second || c.ToolTimeout != 30*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if c.DataDir != "/home/u/.local/state/cryptopay-mcp" {
		t.Errorf("data dir %q", c.DataDir)
	}
	c, err = Load(env(map[string]string{"HOME": "/home/u"}), Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/home/u/.local/state/cryptopay-mcp/sandbox" {
		t.Errorf("sandbox data dir %q", c.DataDir)
	}
	c, err = Load(env(map[string]string{"CRYPTOPAY_DATA_DIR": "/d", "LOG_LEVEL": "warn"}), Flags{DataDir: "/f", LogLevel: "DEBUG"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/f" || c.LogLevel != "debug" {
		t.Errorf("flags did not override: %+v", c)
	}
}

func TestStringMasksSecrets(t *testing.T) {
	c, err := Load(env(map[string]string{"HOME": "/h", "BITNOVO_DEVICE_ID": goodID, "BITNOVO_DEVICE_SECRET": goodSecret}), Flags{})
	if err != nil {
		t.Fatal(err)
	}
	s := c.String()
	if strings.Contains(s, goodID) || strings.Contains(s, goodSecret) || strings.Contains(s, "abcd-4ef0") {
		t.Fatalf("String leaks a secret: %s", s)
	}
	if !strings.Contains(s, "12345678-****-****-****-********90ab") || !strings.Contains(s, "device_secret=set") {
		t.Fatalf("String = %s", s)
	}
}

func TestLogSettings(t *testing.T) {
	tests := []struct {
		name             string
		env              map[string]string
		flag             string
		level, format    string
		warning, problem string // substrings; "" for none
	}{
		{"defaults", nil, "", "info", "text", "", ""},
		{"generic level", map[string]string{"LOG_LEVEL": "WARN"}, "", "warn", "text", "", ""},
		{"another program's trace warns", map[string]string{"LOG_LEVEL": "trace"}, "", "info", "text", `LOG_LEVEL="trace" is not one of debug, info, warn, error`, ""},
		{"ours wins over the generic", map[string]string{"LOG_LEVEL": "trace", "CRYPTOPAY_LOG_LEVEL": "debug"}, "", "debug", "text", "", ""},
		{"ours wins over a valid generic", map[string]string{"LOG_LEVEL": "error", "CRYPTOPAY_LOG_LEVEL": "info"}, "", "info", "text", "", ""},
		{"unknown own level is an error", map[string]string{"CRYPTOPAY_LOG_LEVEL": "trace"}, "", "info", "text", "", `CRYPTOPAY_LOG_LEVEL: "trace" is not one of`},
		{"flag wins over both", map[string]string{"LOG_LEVEL": "error", "CRYPTOPAY_LOG_LEVEL": "warn"}, "DEBUG", "debug", "text", "", ""},
		{"unknown flag level is an error", nil, "loud", "info", "text", "", `--log-level: "loud"`},
		{"json", map[string]string{"LOG_FORMAT": "JSON"}, "", "info", "json", "", ""},
		{"unknown format warns", map[string]string{"LOG_FORMAT": "logfmt"}, "", "info", "text", `LOG_FORMAT="logfmt" is not text or json`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{"HOME": "/h"}
			for k, v := range tt.env {
				e[k] = v
			}
			c, err := Load(env(e), Flags{LogLevel: tt.flag})
			switch {
			case tt.problem == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
				t.Fatalf("Load error %v, want %q", err, tt.problem)
			case tt.problem != "":
				return
			}
			if c.LogLevel != tt.level || c.LogFormat != tt.format {
				t.Errorf("level %q format %q, want %q %q", c.LogLevel, c.LogFormat, tt.level, tt.format)
			}
			got := strings.Join(c.Warnings, "\n")
			if (tt.warning == "") != (got == "") || !strings.Contains(got, tt.warning) {
				t.Errorf("warnings %q, want %q", got, tt.warning)
			}
		})
	}
}
