package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// A person who runs the server by hand sees it wait on a terminal for an
// MCP client that never comes. When stdin is a terminal the server says
// what it is and how to try it (welcome), and a typed line that is not a
// JSON-RPC message gets a hint on stderr instead of reaching the
// transport, which would end the session on it (issue 21).
//
// The hook is transport-neutral: terminalInput wraps stdin before any
// transport reads it, so it works the same in front of the SDK's
// IOTransport and of a transport of our own that answers malformed lines
// with JSON-RPC errors (on a terminal the person gets the hint; JSON-RPC
// messages pass through unchanged either way).

// isTerminal reports whether f is an interactive terminal: a character
// device other than the null device (a client or a pipe gives a pipe or a
// socket; `< /dev/null` is a character device too, but not a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// stdinIsTerminal is isTerminal for run's stdin, which tests replace with
// other readers.
func stdinIsTerminal(stdin io.Reader) bool {
	f, ok := stdin.(*os.File)
	return ok && isTerminal(f)
}

// welcome is what a terminal run prints to stderr before serving.
func welcome(w io.Writer, sandbox bool) {
	self := selfName()
	mode := "live mode: calls reach Bitnovo Pay with your device id"
	if sandbox {
		mode = "sandbox mode: built-in fakes, nothing real is charged or bought"
	}
	cfg, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"cryptopay": map[string]any{"command": self}}})
	fmt.Fprintf(w, `
This is cryptopay-mcp, an MCP server (%s).
It is now waiting for an MCP client to talk to it on stdin/stdout; typing here does nothing useful.
An MCP client normally starts it for you. To try it:
  npx @modelcontextprotocol/inspector %s
      a browser UI that lists and calls the tools
  %s doctor
      checks the setup
  client config (Claude Desktop, Cursor, …; README "Connect a client" has each client):
      %s
Quit with Ctrl-D or Ctrl-C.

`, mode, self, self, cfg)
}

// terminalInput wraps a terminal's input: complete lines that are JSON
// pass through; any other non-blank line is dropped with a hint on hint.
func terminalInput(r io.Reader, hint io.Writer) io.Reader {
	return &termReader{r: r, hint: hint}
}

// termReader is read by one goroutine (the transport's), like stdin.
type termReader struct {
	r    io.Reader
	hint io.Writer
	buf  [4096]byte

	partial []byte // a line not yet ended
	out     []byte // lines passed, not yet read
	err     error  // r's error, returned once out is drained
}

func (t *termReader) Read(p []byte) (int, error) {
	for len(t.out) == 0 && t.err == nil {
		n, err := t.r.Read(t.buf[:])
		t.partial = append(t.partial, t.buf[:n]...)
		for {
			i := bytes.IndexByte(t.partial, '\n')
			if i < 0 {
				break
			}
			t.line(t.partial[:i+1])
			t.partial = t.partial[i+1:]
		}
		if err != nil {
			if len(t.partial) > 0 {
				t.line(append(t.partial, '\n'))
				t.partial = nil
			}
			t.err = err
		}
	}
	if len(t.out) > 0 {
		n := copy(p, t.out)
		t.out = t.out[n:]
		return n, nil
	}
	return 0, t.err
}

// line passes a JSON line on and answers anything else with the hint.
func (t *termReader) line(l []byte) {
	text := bytes.TrimSpace(l)
	switch {
	case len(text) == 0:
	case json.Valid(text):
		t.out = append(t.out, l...)
	default:
		fmt.Fprintf(t.hint, "cryptopay-mcp: %q is not an MCP message. This server waits for an MCP client (JSON-RPC, one message a line);\n"+
			"  try `npx @modelcontextprotocol/inspector %s`, or quit with Ctrl-D.\n", truncate(string(text), 40), selfName())
	}
}

func selfName() string {
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return "cryptopay-mcp"
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
