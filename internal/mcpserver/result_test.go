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

// referenceText is how successResult built its text block before it kept
// data URLs raw: decode everything, shorten data URLs, indent.
func referenceText(t *testing.T, v any, images []payments.Image) string {
	t.Helper()
	full, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(full, &m); err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i, img := range images {
		index[img.Field] = i + 1
	}
	for k, v := range m {
		if s, ok := v.(string); ok && strings.HasPrefix(s, dataURLPrefix) {
			m[k] = fmt.Sprintf("%s… (%d bytes of PNG, attached as image #%d)", dataURLPrefix, len(s)-len(dataURLPrefix), index[k])
		}
	}
	text, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
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
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := successResult(Output[result]{Value: c.v, Images: c.images})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Content[0].(*mcp.TextContent).Text
			if want := referenceText(t, c.v, c.images); got != want {
				t.Fatalf("text block differs from the reference:\n got %s\nwant %s", got, want)
			}
			if len(res.Content) != 1+len(c.images) {
				t.Fatalf("%d content blocks, want %d", len(res.Content), 1+len(c.images))
			}
		})
	}
}
