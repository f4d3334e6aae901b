package mcphttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
)

// TaskListen serves task status notifications (notifications/tasks) in
// front of the go-sdk handler next, which knows neither them nor the
// taskIds of a subscriptions/listen: a 2026-07-28 POST of a listen that
// asks only for task ids is answered here as an SSE stream by the task
// manager; everything else goes to next. tasksFor returns the task manager
// of the request's merchant (tenant) and the caller's task owner id, or a
// nil manager.
func TaskListen(next http.Handler, tasksFor func(*http.Request) (m *tasks.Manager, owner string), maxBody int64, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get(headerMethod) != tasks.MethodListen || r.Body == nil ||
			r.Header.Get(headerProtocolVersion) != Revision20260728 {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "failed to read body", http.StatusBadRequest)
			return
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		var msg struct {
			ID     any             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		var l tasks.Listen
		ours := false
		if json.Unmarshal(body, &msg) == nil && msg.Method == tasks.MethodListen && msg.ID != nil {
			l, ours = tasks.ParseListen(msg.Params)
		}
		m, owner := tasksFor(r)
		if !ours || m == nil {
			next.ServeHTTP(w, r)
			return
		}
		id, err := jsonrpc.MakeID(msg.ID)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		flusher, _ := w.(http.Flusher)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		if flusher != nil {
			flusher.Flush()
		}
		var mu sync.Mutex
		write := func(m jsonrpc.Message) error {
			b, err := jsonrpc.EncodeMessage(m)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if _, err := fmt.Fprintf(w, "event: message\ndata: %s\n\n", b); err != nil {
				return err
			}
			if flusher != nil {
				flusher.Flush()
			}
			return nil
		}
		if err := m.ServeListen(r.Context(), owner, id, l, write); err != nil && r.Context().Err() == nil {
			log.Warn("task status listen ended", "error", err)
		}
	})
}
