package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSandboxWebhookSecretIsKept(t *testing.T) {
	dir := t.TempDir()
	first, err := sandboxWebhookSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := sandboxWebhookSecret(dir)
	if err != nil || again != first || len(first) != 64 {
		t.Fatalf("first %q, again %q, %v", first, again, err)
	}
	fi, err := os.Stat(filepath.Join(dir, sandboxStateDir, "webhook-secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	if err := os.WriteFile(filepath.Join(dir, sandboxStateDir, "webhook-secret"), []byte("nothex"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sandboxWebhookSecret(dir); err == nil || !strings.Contains(err.Error(), "delete the file") {
		t.Fatalf("bad secret file: %v", err)
	}
}

func TestReadSandboxAddress(t *testing.T) {
	tests := []struct {
		content, want string
		ok            bool
	}{
		{"127.0.0.1:41234\n", "127.0.0.1:41234", true},
		{"[::1]:41234", "[::1]:41234", true},
		{"0.0.0.0:41234", "", false}, // never off loopback
		{"127.0.0.1:0", "", false},
		{"garbage", "", false},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "address")
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readSandboxAddress(path)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("%q: got %q, %v", tt.content, got, err)
		}
	}
	if got, err := readSandboxAddress(filepath.Join(t.TempDir(), "none")); got != "" || err != nil {
		t.Errorf("missing file: %q %v", got, err)
	}
}
