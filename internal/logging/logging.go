// Package logging builds the server's slog logger: text lines on stderr
// (stdout belongs to the MCP protocol), with secrets redacted by key.
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

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error"), redacting sensitive attributes.
func New(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: lv,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if IsSensitive(a.Key) {
				return slog.String(a.Key, Redacted)
			}
			return a
		},
	}))
}
