package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestRedactsSensitiveKeys(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "debug")
	log.Info("call", "device_id", "12345678-abcd-4ef0-9abc-1234567890ab", "X-Signature", "deadbeef",
		"Authorization", "Bearer abc", "redemption_code", "GIFT-1234", "pin", "9999", "code", "AMOUNT_TOO_LOW",
		"gift_card_code", "CARD-1")
	out := buf.String()
	for _, leak := range []string{"12345678-abcd", "deadbeef", "Bearer abc", "GIFT-1234", "9999", "CARD-1"} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaks %q: %s", leak, out)
		}
	}
	if !strings.Contains(out, "code=AMOUNT_TOO_LOW") {
		t.Errorf("error codes must stay visible: %s", out)
	}
}

func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "warn")
	log.Info("hidden")
	log.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Fatalf("level filtering wrong: %s", buf.String())
	}
}

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	log := NewFormat(&buf, "debug", "json")
	log.Debug("starting", "device_secret", "s3cret", "mode", "sandbox")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON object: %v: %s", err, buf.String())
	}
	if line["msg"] != "starting" || line["level"] != "DEBUG" || line["mode"] != "sandbox" || line["device_secret"] != Redacted {
		t.Errorf("JSON line %v", line)
	}
	if strings.Contains(buf.String(), "s3cret") {
		t.Errorf("JSON log leaks the secret: %s", buf.String())
	}
	buf.Reset()
	NewFormat(&buf, "info", "text").Info("plain")
	if !strings.HasPrefix(buf.String(), "time=") || !strings.Contains(buf.String(), "msg=plain") {
		t.Errorf("text line %q", buf.String())
	}
}
