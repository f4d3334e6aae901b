package fakebitnovo

import (
	"bytes"
	"net/http"
	"strings"
)

// checkoutShortID extracts the short id from "/{shortid}/" or "/{shortid}",
// where shortid is 4–20 ASCII letters and digits.
func checkoutShortID(p string) (string, bool) {
	id := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
	if len(id) < 4 || len(id) > 20 {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "", false
		}
	}
	return id, true
}

// orderByShort returns a snapshot of the order with web_url short id short.
func (s *Server) orderByShort(short string) (OrderInfo, bool) {
	s.mu.Lock()
	o, ok := s.byShort[short]
	id := ""
	if ok {
		id = o.id
	}
	s.mu.Unlock()
	if !ok {
		return OrderInfo{}, false
	}
	inf, err := s.Order(id)
	return inf, err == nil
}

const checkoutHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox checkout {{.FiatAmount}} {{.Fiat}}</title>
<style>body{font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em}dt{font-weight:bold}code{word-break:break-all}</style>
</head>
<body>
<h1>Pay {{.FiatAmount}} {{.Fiat}}</h1>
<p><strong>Sandbox</strong>: no real money moves.</p>
<dl>
<dt>Status</dt><dd id="status">{{.Status}}</dd>
<dt>Payment</dt><dd><code id="identifier">{{.Identifier}}</code></dd>
{{- if .CurrencyID}}
<dt>Amount</dt><dd>{{.CryptoAmount}} {{.CurrencyID}}</dd>
<dt>Address</dt><dd><code>{{.Address}}</code></dd>
{{- if .TagMemo}}
<dt>Tag / memo</dt><dd><code>{{.TagMemo}}</code></dd>
{{- end}}
{{- end}}
{{- if .Notes}}
<dt>Notes</dt><dd>{{.Notes}}</dd>
{{- end}}
<dt>Expires</dt><dd>{{.ExpiredTime.UTC.Format "2006-01-02 15:04:05 UTC"}}</dd>
</dl>
</body>
</html>
`

// handleCheckout serves the minimal checkout page GET /{shortid}/.
func (s *Server) handleCheckout(w http.ResponseWriter, r *http.Request, short string) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	inf, ok := s.orderByShort(short)
	if !ok {
		writeNotFound(w)
		return
	}
	var buf bytes.Buffer
	if err := s.checkout.Execute(&buf, inf); err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "could not render the checkout page")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
