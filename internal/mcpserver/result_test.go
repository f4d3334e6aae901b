package mcpserver

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr"
)

// referenceText is how successResult builds its text block, the slow way:
// decode every top-level string, shorten data URLs, encode compactly
// without HTML escaping (nested values as they are).
func referenceText(t *testing.T, v any, images []payments.Image) string {
	t.Helper()
	var fb strings.Builder
	fe := json.NewEncoder(&fb)
	fe.SetEscapeHTML(false)
	if err := fe.Encode(v); err != nil {
		t.Fatal(err)
	}
	full := []byte(fb.String())
	var m map[string]any
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(full, &raw); err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i, img := range images {
		index[img.Field] = i + 1
	}
	m = make(map[string]any, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil && strings.HasPrefix(s, dataURLPrefix) {
			m[k] = fmt.Sprintf("%s… (%d bytes of PNG, attached as image #%d)", dataURLPrefix, len(s)-len(dataURLPrefix), index[k])
			continue
		}
		var val any
		if err := json.Unmarshal(v, &val); err != nil {
			t.Fatal(err)
		}
		if _, obj := val.(map[string]any); obj {
			m[k] = v // nested objects keep their field order
			continue
		}
		if list, ok := val.([]any); ok && len(list) > 0 {
			m[k] = v
			continue
		}
		m[k] = val
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestSuccessResultText(t *testing.T) {
	png, err := qr.Render("bitcoin:bc1qexample?amount=0.001", qr.Options{Size: 300, Style: qr.StyleBranded, Logo: "BTC", Branding: true})
	if err != nil {
		t.Fatal(err)
	}
	type nested struct {
		Z     string  `json:"z"`
		A     float64 `json:"a"`
		Notes string  `json:"notes"`
	}
	type result struct {
		Identifier string   `json:"identifier"`
		QRAddress  string   `json:"qr_address,omitempty"`
		QRURI      string   `json:"qr_payment_uri,omitempty"`
		Amount     float64  `json:"amount"`
		Big        int64    `json:"big"`
		Nested     nested   `json:"nested"`
		List       []nested `json:"list"`
		HTML       string   `json:"html"`
		Fake       string   `json:"fake"`
		Sandbox    bool     `json:"sandbox,omitempty"`
	}
	images := []payments.Image{{Field: "qr_address", PNG: png}, {Field: "qr_payment_uri", PNG: png}}
	cases := []struct {
		name   string
		v      result
		images []payments.Image
	}{
		{"two data URLs", result{Identifier: "id", QRAddress: qr.DataURL(png), QRURI: qr.DataURL(png), Amount: 10.5, Big: 1 << 53,
			Nested: nested{Z: "z", A: 1e-7, Notes: "<b>&</b> \u2028 é"}, List: []nested{{Z: "y", A: 3}}, HTML: "<script>", Sandbox: true}, images},
		{"no images", result{Identifier: "id", Amount: 0.01, Fake: "data:text/plain,hi"}, nil},
		{"a data URL-looking string that is not an image field", result{Identifier: "id", Fake: dataURLPrefix + "AAAA"}, nil},
	}
	memo := &textMemo{} // shared: a remembered text must never answer for another value
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 2 { // the second call may come from the memo
				res, err := successResult(Output[result]{Value: c.v, Images: c.images}, memo)
				if err != nil {
					t.Fatal(err)
				}
				got := res.Content[0].(*mcp.TextContent).Text
				if want := referenceText(t, c.v, c.images); got != want {
					t.Fatalf("text block differs from the reference:\n got %s\nwant %s", got, want)
				}
				for _, esc := range []string{`\u0026`, `\u003c`, `\u003e`} {
					if strings.Contains(got, esc) || strings.Contains(string(res.StructuredContent.(json.RawMessage)), esc) {
						t.Errorf("result is HTML-escaped (%s): %s", esc, got)
					}
				}
				if len(res.Content) != 1+len(c.images) {
					t.Fatalf("%d content blocks, want %d", len(res.Content), 1+len(c.images))
				}
			}
		})
	}
}

// TestTextMemo: an unchanged value reuses its text block; a changed one, a
// result with images or a secret one is encoded afresh (and a secret is not
// kept).
func TestTextMemo(t *testing.T) {
	type v struct {
		Status string `json:"status"`
		Code   string `json:"code,omitempty"`
	}
	memo := &textMemo{}
	text := func(o Output[v]) string {
		t.Helper()
		res, err := successResult(o, memo)
		if err != nil {
			t.Fatal(err)
		}
		return res.Content[0].(*mcp.TextContent).Text
	}
	a := text(Output[v]{Value: v{Status: "NR"}})
	if _, ok := memo.get([]byte(`{"status":"NR"}`)); !ok {
		t.Fatal("the text of a plain result was not kept")
	}
	if b := text(Output[v]{Value: v{Status: "NR"}}); b != a {
		t.Errorf("same value, different text: %q vs %q", a, b)
	}
	if c := text(Output[v]{Value: v{Status: "CO"}}); !strings.Contains(c, `"CO"`) {
		t.Errorf("a changed value answered with %q", c)
	}
	text(Output[v]{Value: v{Status: "CO", Code: "GIFT-1234"}, Secret: true})
	memo.mu.Lock()
	kept := string(memo.full)
	memo.mu.Unlock()
	if strings.Contains(kept, "GIFT-1234") {
		t.Error("a secret result was kept in the memo")
	}
}
