// Package logging builds the server's slog logger: text or JSON lines on
// stderr (stdout belongs to the MCP protocol), with secrets redacted by key.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// sensitive lists attribute keys (lower-case, '-' and '_' removed) whose
// values are never logged.
var sensitive = map[string]bool{
	"deviceid": true, "devicesecret": true, "secret": true, "apisecret": true, "token": true,
	"authtoken": true, "authorization": true, "password": true, "signature": true, "xsignature": true,
	"redemptioncode": true, "giftcardcode": true, "pin": true, "apikey": true, "bearer": true,
}

// Redacted replaces a sensitive value in log output.
const Redacted = "[REDACTED]"

func normalize(key string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(key))
}

// IsSensitive reports whether a log attribute key names a secret.
func IsSensitive(key string) bool { return sensitive[normalize(key)] }

// New returns a logger writing text lines to w at level ("debug", "info",
// "warn", "error"), redacting sensitive attributes.
func New(w io.Writer, level string) *slog.Logger { return NewFormat(w, level, "text") }

// NewFormat is New with a line format: "json" for one JSON object a line
// (slog's JSON handler, for log collectors), anything else for text.
// Sensitive attributes are redacted in both.
func NewFormat(w io.Writer, level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{
		Level: ParseLevel(level),
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if IsSensitive(a.Key) {
				return slog.String(a.Key, Redacted)
			}
			return a
		},
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// ParseLevel maps "debug", "warn" and "error" to their slog level;
// anything else is info.
func ParseLevel(level string) slog.Level {
	switch level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}
