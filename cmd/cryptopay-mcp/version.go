package main

import (
	"runtime/debug"
	"strings"
)

// version, commit and date are set at link time by the release build
// (.ci/ship.sh): -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var version, commit, date = "", "", ""

// buildVersion is the version in the User-Agent, the MCP serverInfo and
// the logs: the linked release version, else the module version of a
// `go install …@vX`, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionLine is what `version` and `--version` print.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo()
	return describeVersion(version, commit, date, bi)
}

// describeVersion is the version line: a release build shows the version,
// commit and date it was linked with. Without them (a plain `go build` in
// a checkout) the build info's VCS stamps stand in: the commit, "+dirty"
// when the checkout had uncommitted changes, and the commit's time.
func describeVersion(linkedVersion, linkedCommit, linkedDate string, bi *debug.BuildInfo) string {
	v := linkedVersion
	if v == "" {
		v = "dev"
		if bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	var extra []string
	if linkedCommit != "" || linkedDate != "" {
		if linkedCommit != "" {
			extra = append(extra, "commit "+linkedCommit)
		}
		if linkedDate != "" {
			extra = append(extra, "built "+linkedDate)
		}
	} else if linkedVersion == "" && bi != nil {
		var rev, when string
		var dirty bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			case "vcs.time":
				when = s.Value
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "+dirty"
			}
			extra = append(extra, "commit "+rev)
			if when != "" {
				extra = append(extra, "committed "+when)
			}
		}
	}
	line := "cryptopay-mcp " + v
	if len(extra) > 0 {
		line += " (" + strings.Join(extra, ", ") + ")"
	}
	return line
}
