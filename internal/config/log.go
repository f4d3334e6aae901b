package config

import (
	"fmt"
	"slices"
	"strings"
)

// Log settings. CRYPTOPAY_LOG_LEVEL is this server's own and wins over the
// generic LOG_LEVEL, which other programs in the same environment use too
// (with values like "trace"): a LOG_LEVEL this server does not know is a
// warning, an unknown CRYPTOPAY_LOG_LEVEL or --log-level an error.
const (
	EnvLogLevel        = "CRYPTOPAY_LOG_LEVEL"
	EnvGenericLogLevel = "LOG_LEVEL"
	EnvLogFormat       = "LOG_FORMAT"
)

// LogLevels and LogFormats are the accepted values.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"text", "json"}
)

// LogSettings is how the server logs: the level and the line format
// (text: slog's key=value lines; json: one JSON object a line).
type LogSettings struct {
	Level  string
	Format string
	// Warnings are settings that were ignored, to log once the logger
	// exists (an unknown LOG_LEVEL or LOG_FORMAT).
	Warnings []string
}

// LoadLog reads the log settings: flagLevel (--log-level, "" if not
// given), then CRYPTOPAY_LOG_LEVEL, then LOG_LEVEL; LOG_FORMAT. Problems
// are appended to p; settings that are only ignored become Warnings.
func LoadLog(getenv func(string) string, flagLevel string, p *Problems) LogSettings {
	get := func(k string) string { return strings.ToLower(strings.TrimSpace(getenv(k))) }
	s := LogSettings{Level: "info", Format: "text"}
	own, generic := get(EnvLogLevel), get(EnvGenericLogLevel)
	flagLevel = strings.ToLower(strings.TrimSpace(flagLevel))
	switch {
	case flagLevel != "":
		s.Level = checkLevel("--log-level", flagLevel, p)
	case own != "":
		s.Level = checkLevel(EnvLogLevel, own, p)
	case generic != "":
		if slices.Contains(LogLevels, generic) {
			s.Level = generic
		} else {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s=%q is not one of %s; logging at info (set %s to choose this server's level)",
				EnvGenericLogLevel, generic, strings.Join(LogLevels, ", "), EnvLogLevel))
		}
	}
	if f := get(EnvLogFormat); f != "" {
		if slices.Contains(LogFormats, f) {
			s.Format = f
		} else {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s=%q is not text or json; logging as text", EnvLogFormat, f))
		}
	}
	return s
}

func checkLevel(src, v string, p *Problems) string {
	if slices.Contains(LogLevels, v) {
		return v
	}
	*p = append(*p, fmt.Sprintf("%s: %q is not one of %s", src, v, strings.Join(LogLevels, ", ")))
	return "info"
}
