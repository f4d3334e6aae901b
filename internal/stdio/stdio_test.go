package stdio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/rpcerr"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestParse(t *testing.T) {
	const (
		parse   = jsonrpc.CodeParseError
		invalid = jsonrpc.CodeInvalidRequest
	)
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	tests := []struct {
		name string
		line string
		code int64  // 0: valid
		id   string // the id answered with; "" is null
	}{
		{"garbage", `hello`, parse, ""},
		{"NaN", `NaN`, parse, ""},
		{"NaN value", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":NaN}}`, parse, ""},
		{"trailing data", `{"jsonrpc":"2.0","id":1,"method":"ping"} x`, parse, ""},
		{"two objects", `{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}`, parse, ""},
		{"NUL byte", "{\"jsonrpc\":\"2.0\",\"id\":1,\x00\"method\":\"ping\"}", parse, ""},
		{"NUL in a string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"pi\x00ng\"}", parse, ""},
		{"nesting over 10000", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":` + deep + `}}`, parse, ""},
		{"truncated", `{"jsonrpc":"2.0","id":1,"method":"pi`, parse, ""},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, invalid, ""},
		{"empty batch", `[]`, invalid, ""},
		{"number", `42`, invalid, ""},
		{"null", `null`, invalid, ""},
		{"object id", `{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, invalid, ""},
		{"array id", `{"jsonrpc":"2.0","id":[1],"method":"ping"}`, invalid, ""},
		{"null id", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, invalid, ""},
		{"bool id", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, invalid, ""},
		{"fractional id", `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, invalid, ""},
		{"exponent id", `{"jsonrpc":"2.0","id":1e3,"method":"ping"}`, invalid, ""},
		{"id beyond int64", `{"jsonrpc":"2.0","id":9223372036854775808,"method":"ping"}`, invalid, ""},
		{"id beyond 2^53", `{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`, invalid, ""},
		{"no version", `{"id":3,"method":"ping"}`, invalid, "3"},
		{"wrong version", `{"jsonrpc":"1.0","id":"a","method":"ping"}`, invalid, `"a"`},
		{"method not a string", `{"jsonrpc":"2.0","id":4,"method":7}`, invalid, "4"},
		{"empty method", `{"jsonrpc":"2.0","id":4,"method":""}`, invalid, "4"},
		{"params a string", `{"jsonrpc":"2.0","id":5,"method":"ping","params":"x"}`, invalid, "5"},
		{"request with result", `{"jsonrpc":"2.0","id":6,"method":"ping","result":{}}`, invalid, "6"},
		{"no method no id", `{"jsonrpc":"2.0","result":{}}`, invalid, ""},
		{"response with both", `{"jsonrpc":"2.0","id":7,"result":{},"error":{"code":1,"message":"x"}}`, invalid, "7"},
		{"response with neither", `{"jsonrpc":"2.0","id":7}`, invalid, "7"},
		{"error not an object", `{"jsonrpc":"2.0","id":7,"error":"x"}`, invalid, "7"},
		{"id given twice", `{"jsonrpc":"2.0","id":1,"id":1.5,"method":"ping"}`, invalid, ""},
		{"method in another case", `{"jsonrpc":"2.0","id":1,"Method":"ping"}`, invalid, "1"},
		{"id in another case", `{"jsonrpc":"2.0","ID":1.5,"method":"ping"}`, 0, ""},
		{"nesting over the SDK's 1000", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}}`, invalid, "1"},

		{"call", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, 0, "1"},
		{"string id", `{"jsonrpc":"2.0","id":"x-1","method":"ping","params":{}}`, 0, `"x-1"`},
		{"largest safe id", `{"jsonrpc":"2.0","id":-9007199254740991,"method":"ping"}`, 0, "-9007199254740991"},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, 0, ""},
		{"response", `{"jsonrpc":"2.0","id":8,"result":{"action":"accept"}}`, 0, "8"},
		{"error response", `{"jsonrpc":"2.0","id":9,"error":{"code":-1,"message":"no"}}`, 0, "9"},
		{"spaces around", ` {"jsonrpc":"2.0","id":2,"method":"ping"} `, 0, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, bad := Parse([]byte(tt.line))
			if tt.code != 0 {
				if bad == nil {
					t.Fatalf("accepted as %#v", msg)
				}
				if bad.Code != tt.code || string(bad.ID) != tt.id {
					t.Fatalf("code %d id %q, want %d %q (%s)", bad.Code, bad.ID, tt.code, tt.id, bad.Message)
				}
				if len(bad.Message) > 200 {
					t.Errorf("message of %d bytes", len(bad.Message))
				}
				return
			}
			if bad != nil {
				t.Fatalf("refused: %d %s", bad.Code, bad.Message)
			}
			var id jsonrpc.ID
			switch m := msg.(type) {
			case *jsonrpc.Request:
				id = m.ID
			case *jsonrpc.Response:
				id = m.ID
			}
			if got := ""; id.IsValid() {
				got = idKey(id)
				if got != tt.id {
					t.Fatalf("id %s, want %s", got, tt.id)
				}
			} else if tt.id != "" {
				t.Fatalf("no id, want %s", tt.id)
			}
		})
	}
}

// session runs an MCP server with one slow tool over the transport and
// gives the test its input and output.
type session struct {
	in    *io.PipeWriter
	lines chan []byte // the output, line by line; closed at its end
	last  []byte
	done  chan struct{} // closed when Run returned
	err   error         // Run's error, once done
	stop  chan struct{}
}

func startSession(t *testing.T, tr *Transport, toolStarted chan<- struct{}) *session {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	tr.In, tr.Out = inR, outW
	s := &session{in: inW, lines: make(chan []byte, 100), done: make(chan struct{}), stop: make(chan struct{})}
	tr.Stop = s.stop
	server := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	type slowIn struct {
		MS int `json:"ms"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "slow"}, func(ctx context.Context, _ *mcp.CallToolRequest, in slowIn) (*mcp.CallToolResult, struct{}, error) {
		if toolStarted != nil {
			toolStarted <- struct{}{}
		}
		select {
		case <-time.After(time.Duration(in.MS) * time.Millisecond):
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, struct{}{}, nil
		case <-ctx.Done():
			return nil, struct{}{}, ctx.Err()
		}
	})
	go func() {
		s.err = server.Run(context.Background(), tr)
		close(s.done)
		_ = outW.Close()
	}()
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			s.lines <- append([]byte(nil), sc.Bytes()...)
		}
	}()
	t.Cleanup(func() {
		_ = inW.Close()
		go func() {
			for range s.lines {
			}
		}()
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			t.Error("server did not end")
		}
	})
	return s
}

func (s *session) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

type answer struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *jsonrpc.Error  `json:"error"`
	Method string          `json:"method"`
}

func (s *session) next(t *testing.T) answer {
	t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			t.Fatal("output ended")
		}
		s.last = line
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
	var a answer
	if err := json.Unmarshal(s.last, &a); err != nil {
		t.Fatalf("answer %q: %v", s.last, err)
	}
	return a
}

const initialize = `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`

// TestBadLinesKeepTheSession: every bad line gets its error, with the right
// code and id, and the session answers the next request.
func TestBadLinesKeepTheSession(t *testing.T) {
	s := startSession(t, &Transport{MaxLine: 1 << 10, Drain: time.Second}, nil)

	s.send(t, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if a := s.next(t); string(a.ID) != "1" || a.Error == nil || a.Error.Code != jsonrpc.CodeInvalidRequest {
		t.Fatalf("call before initialize: %+v %+v", a, a.Error)
	}
	s.send(t, initialize)
	if a := s.next(t); string(a.ID) != `"init"` || a.Error != nil {
		t.Fatalf("initialize: %+v", a)
	}
	s.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	bad := []struct {
		line string
		code int64
		id   string
	}{
		{"garbage", jsonrpc.CodeParseError, "null"},
		{`{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, jsonrpc.CodeInvalidRequest, "null"},
		{`{"jsonrpc":"2.0","id":99999999999999999999,"method":"ping"}`, jsonrpc.CodeInvalidRequest, "null"},
		{`[{"jsonrpc":"2.0","id":2,"method":"ping"}]`, jsonrpc.CodeInvalidRequest, "null"},
		{`{"jsonrpc":"2.0","id":3,"method":"ping"} {}`, jsonrpc.CodeParseError, "null"},
		{`{"jsonrpc":"1.0","id":4,"method":"ping"}`, jsonrpc.CodeInvalidRequest, "4"},
		{`{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":"` + strings.Repeat("a", 5000) + `"}}`, jsonrpc.CodeParseError, "null"},
		{"\x00\x00", jsonrpc.CodeParseError, "null"},
		{strings.Repeat("[", 10001), jsonrpc.CodeParseError, "null"},
	}
	for i, b := range bad {
		s.send(t, b.line)
		a := s.next(t)
		if a.Error == nil || a.Error.Code != b.code || string(a.ID) != b.id {
			t.Fatalf("bad line %d: %s (error %+v), want code %d id %s", i, s.last, a.Error, b.code, b.id)
		}
		s.send(t, `{"jsonrpc":"2.0","id":100,"method":"ping"}`)
		if a := s.next(t); string(a.ID) != "100" || a.Error != nil {
			t.Fatalf("ping after bad line %d: %s", i, s.last)
		}
	}
	s.send(t, "")
	s.send(t, "   \r")
	s.send(t, `{"jsonrpc":"2.0","id":101,"method":"ping"}`)
	if a := s.next(t); string(a.ID) != "101" {
		t.Fatalf("blank lines answered: %s", s.last)
	}
}

// TestCancelledCallIsNotAnswered: per the MCP spec a cancelled call gets no
// answer; the next one does.
func TestCancelledCallIsNotAnswered(t *testing.T) {
	started := make(chan struct{}, 1)
	s := startSession(t, &Transport{Drain: time.Second}, started)
	s.send(t, initialize)
	s.next(t)
	s.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	s.send(t, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","arguments":{"ms":10000}}}`)
	<-started
	s.send(t, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`)
	s.send(t, `{"jsonrpc":"2.0","id":8,"method":"ping"}`)
	if a := s.next(t); string(a.ID) != "8" {
		t.Fatalf("first answer after the cancel: %s", s.last)
	}
	// The cancelled call's answer, had it been written, came before the
	// ping's or comes now: a last ping proves it was not.
	time.Sleep(100 * time.Millisecond)
	s.send(t, `{"jsonrpc":"2.0","id":9,"method":"ping"}`)
	if a := s.next(t); string(a.ID) != "9" {
		t.Fatalf("the cancelled call was answered: %s", s.last)
	}
}

// TestEndWaitsForCalls: whatever ends the input (end of file, Stop), the
// calls already read are answered before the session ends.
func TestEndWaitsForCalls(t *testing.T) {
	for _, how := range []string{"eof", "stop", "bad line then eof"} {
		t.Run(how, func(t *testing.T) {
			started := make(chan struct{}, 1)
			s := startSession(t, &Transport{Drain: 5 * time.Second}, started)
			s.send(t, initialize)
			s.next(t)
			s.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			s.send(t, `{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"slow","arguments":{"ms":300}}}`)
			<-started
			switch how {
			case "eof":
				_ = s.in.Close()
			case "stop":
				close(s.stop)
			case "bad line then eof":
				s.send(t, "{")
				if a := s.next(t); a.Error == nil || a.Error.Code != jsonrpc.CodeParseError {
					t.Fatalf("bad line: %s", s.last)
				}
				_ = s.in.Close()
			}
			a := s.next(t)
			if string(a.ID) != `"c"` || a.Error != nil || !strings.Contains(string(a.Result), "done") {
				t.Fatalf("answer: %s", s.last)
			}
			select {
			case <-s.done:
				if s.err != nil {
					t.Fatalf("Run: %v", s.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("session did not end")
			}
		})
	}
}

// TestEndBound: an unanswered call holds the end only up to Drain.
func TestEndBound(t *testing.T) {
	started := make(chan struct{}, 1)
	s := startSession(t, &Transport{Drain: 100 * time.Millisecond}, started)
	s.send(t, initialize)
	s.next(t)
	s.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	s.send(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{"ms":60000}}}`)
	<-started
	start := time.Now()
	_ = s.in.Close()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Errorf("ended after %v, before the drain bound", el)
	}
}

// endless is a line of n bytes of 'a' and a newline, made as it is read.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	if e.n < 0 {
		return 0, io.EOF
	}
	if e.n == 0 {
		p[0] = '\n'
		e.n = -1
		return 1, nil
	}
	k := min(len(p), e.n)
	for i := range k {
		p[i] = 'a'
	}
	e.n -= k
	return k, nil
}

// TestOversizedLineIsNotHeld: a 64 MiB line is refused while allocating
// a small fraction of it.
func TestOversizedLineIsNotHeld(t *testing.T) {
	tr := &Transport{In: &endless{n: 64 << 20}, Out: io.Discard, MaxLine: 1 << 20}
	c, err := tr.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conn := c.(*conn)
	ev := <-conn.lines
	runtime.ReadMemStats(&after)
	if ev.tooLong != 64<<20 || ev.line != nil {
		t.Fatalf("event %d bytes, tooLong %d", len(ev.line), ev.tooLong)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("allocated %d bytes reading a 64 MiB line with a 1 MiB limit", alloc)
	}
}

// TestClient: the go-sdk client, which negotiates the newest protocol over
// stdio, works through the transport.
func TestClient(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	server := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	done := make(chan error, 1)
	go func() { done <- server.Run(context.Background(), &Transport{In: inR, Out: outW, Drain: time.Second}) }()
	client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Ping(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_ = cs.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("server did not end")
	}
}

// FuzzParse: any line is either one valid message or a refusal with a
// JSON-RPC code and, if any, a valid id; an accepted call keeps its id.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"ping"}`, `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":"a","result":{}}`, `[1]`, `NaN`, `{"jsonrpc":"2.0","method":"x","params":[]}`,
		`{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		msg, bad := Parse(line)
		if (msg == nil) == (bad == nil) {
			t.Fatalf("%q: message %v and refusal %v", line, msg, bad)
		}
		if bad != nil {
			if bad.Code != jsonrpc.CodeParseError && bad.Code != jsonrpc.CodeInvalidRequest {
				t.Fatalf("%q: code %d", line, bad.Code)
			}
			if bad.ID != nil {
				if _, ok := rpcerr.ID(bad.ID); !ok {
					t.Fatalf("%q: answered with id %s", line, bad.ID)
				}
			}
			return
		}
		f, err := members(bytes.TrimSpace(line))
		if err != nil {
			t.Fatalf("%q accepted: %v", line, err)
		}
		w := struct{ ID json.RawMessage }{f["id"]}
		var id jsonrpc.ID
		switch m := msg.(type) {
		case *jsonrpc.Request:
			id = m.ID
		case *jsonrpc.Response:
			id = m.ID
		default:
			t.Fatalf("%q: %T", line, msg)
		}
		if id.IsValid() {
			v, _ := rpcerr.ID(w.ID)
			want, _ := jsonrpc.MakeID(v)
			if idKey(id) != idKey(want) {
				t.Fatalf("%q: id %s, sent %s", line, idKey(id), w.ID)
			}
		}
	})
}

// failAfter is an output that takes n writes, then fails.
type failAfter struct {
	mu sync.Mutex
	n  int
}

func (f *failAfter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return 0, errors.New("broken pipe")
	}
	f.n--
	return len(p), nil
}

// TestBrokenOutputFinishesCalls: when the client stops reading (a write
// fails), the session ends as at end of input: the calls in flight run to
// their end instead of being cancelled.
func TestBrokenOutputFinishesCalls(t *testing.T) {
	inR, inW := io.Pipe()
	defer inW.Close()
	server := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	started, finished := make(chan struct{}), make(chan error, 1)
	mcp.AddTool(server, &mcp.Tool{Name: "slow"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, struct{}, error) {
		close(started)
		select {
		case <-time.After(300 * time.Millisecond):
			finished <- nil
		case <-ctx.Done():
			finished <- ctx.Err()
		}
		return &mcp.CallToolResult{}, struct{}{}, nil
	})
	done := make(chan error, 1)
	go func() {
		done <- server.Run(context.Background(), &Transport{In: inR, Out: &failAfter{n: 1}, Drain: 5 * time.Second})
	}()
	for _, line := range []string{initialize, `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{}}}`} {
		if _, err := io.WriteString(inW, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	if _, err := io.WriteString(inW, `{"jsonrpc":"2.0","id":2,"method":"ping"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-finished:
		if err != nil {
			t.Fatalf("the call in flight was cancelled: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not end")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not end with its output broken")
	}
}

// TestEndAbandonsReadOnlyCalls: when a signal ends the input a call that
// Transport.Abandon names is cancelled, not waited for, while the others
// are still waited for.
func TestEndAbandonsReadOnlyCalls(t *testing.T) {
	started := make(chan struct{}, 2)
	abandon := func(req *jsonrpc.Request) bool { return strings.Contains(string(req.Params), `"ms":60000`) }
	s := startSession(t, &Transport{Drain: 30 * time.Second, Abandon: abandon}, started)
	s.send(t, initialize)
	s.next(t)
	s.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	s.send(t, `{"jsonrpc":"2.0","id":"long","method":"tools/call","params":{"name":"slow","arguments":{"ms":60000}}}`)
	s.send(t, `{"jsonrpc":"2.0","id":"short","method":"tools/call","params":{"name":"slow","arguments":{"ms":300}}}`)
	<-started
	<-started
	start := time.Now()
	close(s.stop) // a signal; end of file would wait for both (a pipe)
	a := s.next(t)
	if string(a.ID) != `"short"` || a.Error != nil {
		t.Fatalf("answer: %s", s.last)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("session did not end: the abandoned call was waited for")
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("ended after %v", el)
	}
	for line := range s.lines {
		t.Errorf("answer after the end: %s (an abandoned call gets none)", line)
	}
}
