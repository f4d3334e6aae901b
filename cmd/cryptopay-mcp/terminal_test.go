package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func TestTerminalInput(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		out    string
		hints  []string // substrings of the hint output, in order
		noHint bool
	}{
		{"JSON lines pass unchanged", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n", nil, true},
		{"a word gets a hint and is dropped", "hello\n{\"id\":2}\n", "{\"id\":2}\n", []string{`"hello" is not an MCP message`}, false},
		{"blank lines are dropped quietly", "\n   \r\n{\"id\":3}\r\n", "{\"id\":3}\r\n", nil, true},
		{"a long line is shortened in the hint", strings.Repeat("x", 100) + "\n", "", []string{strings.Repeat("x", 40) + "…"}, false},
		{"an unfinished last line still counts", "help", "", []string{`"help" is not an MCP message`}, false},
		{"an unfinished JSON last line passes", "{\"id\":4}", "{\"id\":4}\n", nil, true},
		{"broken JSON is not JSON", "{\"id\":\n", "", []string{`"{\"id\":" is not an MCP message`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hint bytes.Buffer
			// One byte at a time: lines split across reads.
			got, err := io.ReadAll(terminalInput(iotest.OneByteReader(strings.NewReader(tt.in)), &hint))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.out {
				t.Errorf("passed %q, want %q", got, tt.out)
			}
			if tt.noHint && hint.Len() > 0 {
				t.Errorf("unexpected hint %q", hint.String())
			}
			for _, h := range tt.hints {
				if !strings.Contains(hint.String(), h) {
					t.Errorf("hint %q lacks %q", hint.String(), h)
				}
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("the null device is a character device, not a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(r) || stdinIsTerminal(r) || stdinIsTerminal(strings.NewReader("")) {
		t.Error("a pipe or a reader is not a terminal")
	}
}
