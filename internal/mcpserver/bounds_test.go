package mcpserver

import "testing"

// Out-of-range numbers get a message an agent can act on, not the schema
// library's rational numbers.
func TestBoundMessages(t *testing.T) {
	cs := promptSession(t, true, false)
	for _, tc := range []struct {
		amount any
		want   string
	}{
		{0, "invalid arguments: amount_eur must be at least 0.01"},
		{0.001, "invalid arguments: amount_eur must be at least 0.01"},
		{-5, "invalid arguments: amount_eur must be at least 0.01"},
		{1e12, "invalid arguments: amount_eur must be at most 1000000000"},
	} {
		m, isErr := callJSON(t, cs, "create_payment_link", map[string]any{"amount_eur": tc.amount})
		e, _ := m["error"].(map[string]any)
		if !isErr || e["code"] != "INVALID_ARGUMENT" || e["message"] != tc.want {
			t.Errorf("amount_eur %v: got %v, want INVALID_ARGUMENT %q", tc.amount, m, tc.want)
		}
	}
}
