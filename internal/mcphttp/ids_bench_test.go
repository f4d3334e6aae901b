package mcphttp

import (
	"bytes"
	"io"
	"net/http/httptest"
	"testing"
)

// hostedCall is the body bench/http/toolcall.lua sends: a 2026-07-28
// tools/call of the hosted-path benchmark.
const hostedCall = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_currencies_catalog","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`

// BenchmarkRouterChecks measures what the revision router adds to every
// POST: reading the body once and checking its id (checkIDs), and the
// recoding writer's scan of an answer (a result of the hosted-path size).
func BenchmarkRouterChecks(b *testing.B) {
	b.Run("read+checkIDs", func(b *testing.B) {
		body := []byte(hostedCall)
		b.ReportAllocs()
		for b.Loop() {
			got, _ := io.ReadAll(bytes.NewReader(body))
			if badID(got) {
				b.Fatal("bad id")
			}
		}
	})
	b.Run("checkIDs", func(b *testing.B) {
		body := []byte(hostedCall)
		b.ReportAllocs()
		for b.Loop() {
			if badID(body) {
				b.Fatal("bad id")
			}
		}
	})
	b.Run("recodeWriter 12KB event", func(b *testing.B) {
		event := []byte("event: message\ndata: " + `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"` +
			string(bytes.Repeat([]byte("x"), 11800)) + `"}]}}` + "\n\n")
		w := recodeWriter{httptest.NewRecorder()}
		b.SetBytes(int64(len(event)))
		b.ReportAllocs()
		for b.Loop() {
			if mayNeed(event, true) {
				b.Fatal("a result needs recoding")
			}
		}
		_, _ = w.Write(event)
	})
}
