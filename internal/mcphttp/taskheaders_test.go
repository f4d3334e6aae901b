package mcphttp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckTaskName(t *testing.T) {
	body := func(method, taskID string) string {
		return `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":{"taskId":"` + taskID + `"}}`
	}
	tests := []struct {
		name       string
		hdr        map[string]string
		body       string
		pass       bool
		wantReason string
	}{
		{"matching name", map[string]string{"Mcp-Method": "tasks/get", "Mcp-Name": "T1"}, body("tasks/get", "T1"), true, ""},
		{"whitespace around the value", map[string]string{"Mcp-Method": "tasks/cancel", "Mcp-Name": "  T1 "}, body("tasks/cancel", "T1"), true, ""},
		{"mismatched name", map[string]string{"Mcp-Method": "tasks/get", "Mcp-Name": "other"}, body("tasks/get", "T1"), false, "does not match"},
		{"missing name", map[string]string{"Mcp-Method": "tasks/update"}, body("tasks/update", "T1"), false, "missing required Mcp-Name"},
		{"not a task method", map[string]string{"Mcp-Method": "tools/call"}, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`, true, ""},
		{"method mismatch left to the go-sdk", map[string]string{"Mcp-Method": "tasks/get"}, body("tools/call", "T1"), true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(tc.body))
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			if got := checkTaskName(w, r, []byte(tc.body)); got != tc.pass {
				t.Fatalf("pass = %v, want %v (%d %s)", got, tc.pass, w.Code, w.Body)
			}
			if tc.pass {
				b, _ := io.ReadAll(r.Body)
				if string(b) != tc.body {
					t.Fatalf("the body was touched: %q", b)
				}
				return
			}
			var resp struct {
				ID    int `json:"id"`
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &resp) != nil || resp.ID != 7 ||
				resp.Error.Code != codeHeaderMismatch || !strings.Contains(resp.Error.Message, tc.wantReason) {
				t.Fatalf("refusal = %d %s", w.Code, w.Body)
			}
		})
	}
}
