package main

import (
	"runtime/debug"
	"testing"
)

func TestDescribeVersion(t *testing.T) {
	vcs := func(rev, modified, when string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/cryptopay-mcp/cryptopay-mcp", Version: "(devel)"}}
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: "vcs", Value: "git"})
		if rev != "" {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: "vcs.revision", Value: rev})
		}
		if modified != "" {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: "vcs.modified", Value: modified})
		}
		if when != "" {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: "vcs.time", Value: when})
		}
		return bi
	}
	const rev = "3a13339abcdef0123456789abcdef0123456789a"
	installed := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}
	tests := []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  string
	}{
		{"release build", "1.4.0", "abc123", "2026-12-01T10:00:00Z", vcs(rev, "false", ""), "cryptopay-mcp 1.4.0 (commit abc123, built 2026-12-01T10:00:00Z)"},
		{"clean checkout", "", "", "", vcs(rev, "false", "2026-12-07T21:00:00Z"), "cryptopay-mcp dev (commit 3a13339abcde, committed 2026-12-07T21:00:00Z)"},
		{"dirty checkout", "", "", "", vcs(rev, "true", "2026-12-07T21:00:00Z"), "cryptopay-mcp dev (commit 3a13339abcde+dirty, committed 2026-12-07T21:00:00Z)"},
		{"go install @version", "", "", "", installed, "cryptopay-mcp v1.4.0"},
		{"Go's pseudo-version of a checkout", "", "", "", func() *debug.BuildInfo {
			bi := vcs(rev, "true", "2026-12-07T21:00:00Z")
			bi.Main.Version = "v0.0.0-20261207210000-3a13339abcde+dirty"
			return bi
		}(), "cryptopay-mcp v0.0.0-20261207210000-3a13339abcde+dirty (commit 3a13339abcde+dirty, committed 2026-12-07T21:00:00Z)"},
		{"no VCS stamps (-buildvcs=false)", "", "", "", vcs("", "", ""), "cryptopay-mcp dev"},
		{"no build info", "", "", "", nil, "cryptopay-mcp dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeVersion(tt.version, tt.commit, tt.date, tt.bi); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
