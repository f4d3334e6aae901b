package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// Status notifications (notifications/tasks) travel on a
// subscriptions/listen stream that asks for them by task id. The go-sdk
// (v1.8.0) knows neither the taskIds field of a listen nor the
// notification, so the transports hand such a listen to ServeListen
// before the SDK sees it: over stdio the connection, over HTTP the
// handler in front of the SDK's.

// Method names of the status notifications' stream.
const (
	MethodListen        = "subscriptions/listen"
	MethodNotifyTasks   = "notifications/tasks"
	methodAcknowledged  = "notifications/subscriptions/acknowledged"
	codeMissingClientCp = -32021
)

// watchPoll is how often a listen reads its tasks from the store, so it
// sees changes made by other replicas; this process's own changes wake it
// at once.
const watchPoll = 500 * time.Millisecond

// Listen is a subscriptions/listen request that asks for task status
// notifications and nothing else.
type Listen struct {
	TaskIDs []string
	// Declared: the request's _meta declares the tasks extension.
	Declared bool
	// HasCaps: the request's _meta carries client capabilities at all
	// (a 2026-07-28 request); without them the session's apply.
	HasCaps bool
}

// ParseListen reports whether params (of a subscriptions/listen) ask only
// for task ids; a listen that asks for anything else is the SDK's (it then
// acknowledges no task ids).
func ParseListen(params json.RawMessage) (Listen, bool) {
	var p struct {
		Meta          map[string]json.RawMessage `json:"_meta"`
		Notifications map[string]json.RawMessage `json:"notifications"`
	}
	if json.Unmarshal(params, &p) != nil || len(p.Notifications) != 1 {
		return Listen{}, false
	}
	raw, ok := p.Notifications["taskIds"]
	if !ok {
		return Listen{}, false
	}
	var l Listen
	if json.Unmarshal(raw, &l.TaskIDs) != nil {
		return Listen{}, false
	}
	if c, ok := p.Meta[mcp.MetaKeyClientCapabilities]; ok {
		l.HasCaps = true
		var caps struct {
			Extensions map[string]json.RawMessage `json:"extensions"`
		}
		if json.Unmarshal(c, &caps) == nil {
			_, l.Declared = caps.Extensions[ExtensionID]
		}
	}
	return l, true
}

// statusNotification is the params of notifications/tasks: the task as
// tasks/get returns it, tagged with the listen's subscription id.
type statusNotification struct {
	Meta map[string]any `json:"_meta"`
	DetailedTask
}

// ServeListen answers one task listen (request id) of owner: the
// acknowledgement (naming the owner's live tasks among l.TaskIDs), then a
// notifications/tasks with the task as tasks/get shows it whenever one
// changes (first its current state). It ends with a result when every
// acknowledged task is finished and notified, or silently when ctx ends
// (the client cancelled, or the connection closed). A listen whose client
// did not declare the extension gets -32021. write sends one message on
// the listen's stream.
func (m *Manager) ServeListen(ctx context.Context, owner string, id jsonrpc.ID, l Listen, write func(jsonrpc.Message) error) error {
	if !l.Declared {
		return write(&jsonrpc.Response{ID: id, Error: &jsonrpc.Error{Code: codeMissingClientCp,
			Message: "Missing required client capability: " + ExtensionID,
			Data:    json.RawMessage(`{"requiredCapabilities":{"extensions":{"` + ExtensionID + `":{}}}}`)}})
	}
	sub := map[string]any{mcp.MetaKeySubscriptionID: id.Raw()}
	seen := map[string]string{} // task id → the state last notified
	var agreed []string
	for _, tid := range l.TaskIDs {
		if _, err := m.Get(ctx, owner, tid); err == nil && !slices.Contains(agreed, tid) {
			agreed = append(agreed, tid)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("listen: %w", err)
		}
	}
	ack, err := notification(methodAcknowledged, map[string]any{"_meta": sub,
		"notifications": map[string]any{"taskIds": nonNil(agreed)}})
	if err != nil {
		return err
	}
	if err := write(ack); err != nil {
		return err
	}
	tick := time.NewTicker(watchPoll)
	defer tick.Stop()
	for {
		changed := m.nextChange() // taken before reading: a change made meanwhile is not missed
		open := 0
		for _, tid := range agreed {
			t, err := m.Get(ctx, owner, tid)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				continue // gone (expired): nothing more to say about it
			}
			state := fmt.Sprint(t.UpdatedAt.UnixMilli(), t.Status, t.StatusMessage, string(t.InputRequests), string(t.InputResponses))
			if seen[tid] != state {
				n, err := notification(MethodNotifyTasks, statusNotification{Meta: sub, DetailedTask: Detailed(t)})
				if err != nil {
					return err
				}
				if err := write(n); err != nil {
					return err
				}
				seen[tid] = state
			}
			if !store.TaskTerminal(t.Status) {
				open++
			}
		}
		if open == 0 {
			res, err := json.Marshal(map[string]any{"_meta": sub, "resultType": ResultTypeComplete})
			if err != nil {
				return err
			}
			return write(&jsonrpc.Response{ID: id, Result: res})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-changed:
		}
	}
}

func notification(method string, params any) (*jsonrpc.Request, error) {
	b, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", method, err)
	}
	return &jsonrpc.Request{Method: method, Params: b}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
