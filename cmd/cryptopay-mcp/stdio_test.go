package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestMessage(t *testing.T) {
	tests := []struct {
		line    string
		id      string
		request bool
		method  string
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, "1", true, "initialize"},
		{`{"method":"tools/call","params":{"a":[1,{"b":2}]},"id":"x-1","jsonrpc":"2.0"}`, `"x-1"`, true, "tools/call"},
		{`{"jsonrpc":"2.0","method":"notifications/initialized"}`, "", true, "notifications/initialized"},
		{`{"jsonrpc":"2.0","id":3,"method":"subscriptions/listen","params":{}}`, "3", true, "subscriptions/listen"},
		{`{"jsonrpc":"2.0","id":7,"result":{"big":"` + strings.Repeat("a", 1000) + `"}}`, "7", false, ""},
		{`{"jsonrpc":"2.0","result":{},"id":8}`, "8", false, ""},
		{`{"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"x"}}`, "9", false, ""},
		{`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}`, "", false, ""},
		{`{"jsonrpc":"2.0","id":4,"method":5}`, "", false, ""},
		{`not json`, "", false, ""},
		{`[1,2]`, "", false, ""},
	}
	for _, tt := range tests {
		id, req, method := message([]byte(tt.line))
		if id != tt.id || req != tt.request || method != tt.method {
			t.Errorf("%.60s: id %q request %t method %q, want %q %t %q", tt.line, id, req, method, tt.id, tt.request, tt.method)
		}
	}
}

// TestDrainHoldsEOF: the end of input waits for the answer to the request
// read, then comes; without an answer it comes at the bound.
func TestDrainHoldsEOF(t *testing.T) {
	d := newDrain(context.Background(), 2*time.Second)
	r := d.Reader(strings.NewReader("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}\n"))
	var out bytes.Buffer
	w := d.Writer(&out)
	eof := make(chan time.Time, 1)
	go func() {
		_, _ = io.ReadAll(r)
		eof <- time.Now()
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-eof:
		t.Fatal("end of input before the answer")
	default:
	}
	answered := time.Now()
	_, _ = w.Write([]byte("{\"jsonrpc\":\"2.0\",\"id\":1,"))
	_, _ = w.Write([]byte("\"result\":{}}\n"))
	select {
	case at := <-eof:
		if at.Before(answered) {
			t.Fatal("end of input before the answer")
		}
	case <-time.After(time.Second):
		t.Fatal("end of input held after the answer")
	}

	// A listen is not waited for: it is answered only when it ends.
	d = newDrain(context.Background(), 5*time.Second)
	start := time.Now()
	_, _ = io.ReadAll(d.Reader(strings.NewReader("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"subscriptions/listen\",\"params\":{}}\n")))
	if el := time.Since(start); el > time.Second {
		t.Errorf("a pending listen held the end of input for %v", el)
	}

	d = newDrain(context.Background(), 50*time.Millisecond)
	start = time.Now()
	_, _ = io.ReadAll(d.Reader(strings.NewReader("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n")))
	if el := time.Since(start); el < 50*time.Millisecond || el > time.Second {
		t.Errorf("unanswered request held the end for %v, want the 50 ms bound", el)
	}
}

// TestPipedRequestsAreAnswered: requests written with stdin closed at once
// (a shell pipe) still get their answers from the binary.
func TestPipedRequestsAreAnswered(t *testing.T) {
	cmd := exec.Command(binPath)
	cmd.Env = envList(baseEnv(t, t.TempDir()))
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"0"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_currencies_catalog","arguments":{}}}
`)
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"jsonrpc":"2.0","id":1,"result"`) || !strings.HasPrefix(lines[1], `{"jsonrpc":"2.0","id":2,"result"`) {
		t.Fatalf("stdout:\n%.400s", out)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %v to exit", el)
	}
}
