package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
)

// Task status notifications (notifications/tasks) are asked for with a
// subscriptions/listen naming task ids, which the go-sdk does not know:
// the transports hand such a listen to tasks.Manager.ServeListen before
// the SDK sees it, and pass everything else on (HTTP: mcphttp.TaskListen).

// taskListenTransport is the stdio side: its connection serves task
// listens itself.
type taskListenTransport struct {
	mcp.Transport
	m     *tasks.Manager
	owner string
	log   *slog.Logger
	// inputEnded, if set, is closed when the client's input ends: the
	// listens then end with their result (the transport waits for every
	// call read to be answered, and a listen would never be).
	inputEnded <-chan struct{}
}

func (t *taskListenTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	tc := &taskListenConn{Connection: c, t: t, ctx: lctx, cancel: cancel, listens: map[string]context.CancelFunc{}}
	if t.inputEnded != nil {
		tc.wg.Go(func() {
			select {
			case <-t.inputEnded:
				tc.mu.Lock()
				tc.inputEnded = true
				for _, stop := range tc.listens {
					stop()
				}
				tc.mu.Unlock()
			case <-lctx.Done():
			}
		})
	}
	return tc, nil
}

// endSignal wraps r: the channel is closed once r has reported the end of
// input (or failed). r's Close, if it has one, is kept.
func endSignal(r io.Reader) (io.Reader, <-chan struct{}) {
	ended := make(chan struct{})
	er := &endReader{r: r, ended: ended}
	if c, ok := r.(io.Closer); ok {
		return struct {
			io.Reader
			io.Closer
		}{er, c}, ended
	}
	return er, ended
}

type endReader struct {
	r     io.Reader
	once  sync.Once
	ended chan struct{}
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.ended) })
	}
	return n, err
}

type taskListenConn struct {
	mcp.Connection
	t      *taskListenTransport
	ctx    context.Context // ends every listen when the connection closes
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	declared   bool                          // the session's initialize declared the tasks extension
	listens    map[string]context.CancelFunc // by request id (JSON text)
	inputEnded bool                          // the client's input has ended: no new listens
}

func idKey(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (c *taskListenConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	for {
		msg, err := c.Connection.Read(ctx)
		if err != nil {
			return msg, err
		}
		req, ok := msg.(*jsonrpc.Request)
		if !ok {
			return msg, nil
		}
		switch req.Method {
		case "initialize":
			var p struct {
				Capabilities struct {
					Extensions map[string]json.RawMessage `json:"extensions"`
				} `json:"capabilities"`
			}
			if json.Unmarshal(req.Params, &p) == nil {
				_, declared := p.Capabilities.Extensions[tasks.ExtensionID]
				c.mu.Lock()
				c.declared = declared
				c.mu.Unlock()
			}
		case "notifications/cancelled":
			var p struct {
				RequestID any `json:"requestId"`
			}
			if json.Unmarshal(req.Params, &p) == nil {
				c.mu.Lock()
				stop := c.listens[idKey(p.RequestID)]
				c.mu.Unlock()
				if stop != nil {
					stop()
					continue // the SDK never saw the listen
				}
			}
		case tasks.MethodListen:
			l, ours := tasks.ParseListen(req.Params)
			if !ours || !req.IsCall() {
				break
			}
			c.serve(req.ID, l)
			continue
		}
		return msg, nil
	}
}

func (c *taskListenConn) serve(id jsonrpc.ID, l tasks.Listen) {
	c.mu.Lock()
	if !l.HasCaps {
		l.Declared = c.declared // a 2025-11-25 session: what initialize said
	}
	ctx, stop := context.WithCancel(c.ctx)
	if c.inputEnded {
		stop() // read just before the end: acknowledged, then ended at once
	}
	key := idKey(id.Raw())
	c.listens[key] = stop
	c.mu.Unlock()
	c.wg.Go(func() {
		defer func() {
			stop()
			c.mu.Lock()
			delete(c.listens, key)
			c.mu.Unlock()
		}()
		err := c.t.m.ServeListen(ctx, c.t.owner, id, l, func(m jsonrpc.Message) error { return c.Connection.Write(ctx, m) })
		if err != nil && ctx.Err() == nil {
			c.t.log.Warn("task status listen ended", "error", err)
		}
		if ctx.Err() != nil && c.ctx.Err() == nil {
			// Ended by the client (cancelled: the transport drops this
			// answer, but learns from it that the call is over) or by the
			// end of its input (the listen's result goes out, as when a
			// server ends a subscription).
			res, _ := json.Marshal(map[string]any{"_meta": map[string]any{mcp.MetaKeySubscriptionID: id.Raw()}})
			_ = c.Connection.Write(c.ctx, &jsonrpc.Response{ID: id, Result: res})
		}
	})
}

func (c *taskListenConn) Close() error {
	c.cancel()
	err := c.Connection.Close()
	c.wg.Wait()
	return err
}

// callerOf is the request's caller: its verified token's, or anonymous.
func callerOf(r *http.Request, anonymous access.Caller) access.Caller {
	if ti := auth.TokenInfoFromContext(r.Context()); ti != nil {
		return access.FromTokenInfo(ti)
	}
	return anonymous
}
