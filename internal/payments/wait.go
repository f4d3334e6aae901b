package payments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// How long a wait may last. A call whose client gets no progress
// notifications must answer inside the client's request timeout: 60 s in the
// TypeScript SDK, and so in Claude Desktop, Cursor and the MCP Inspector
// (docs/waits.md lists the clients). Such a wait ends by MaxPlainWait, 15 s
// inside it, with a "still pending, call again" result. A caller that gets
// progress (a progress token: a notification every heartbeat, or a task) may
// wait up to MaxWait.
const (
	DefaultWait  = 45 * time.Second
	MaxPlainWait = 45 * time.Second
	MaxWait      = 300 * time.Second
)

// Poll intervals of Wait: with webhooks a verified delivery wakes the waiter
// and polling is only a safety net; without them the status is polled with
// backoff from pollMin up to pollMax.
const (
	pollMin         = time.Second
	pollMax         = 15 * time.Second
	pollWithWebhook = 30 * time.Second
	heartbeat       = 5 * time.Second // ≤ 10 s: clients that reset their timeout on progress
)

// pollTimes are Wait's intervals and its cap without progress (shortened by
// tests).
type pollTimes struct{ min, max, webhook, heartbeat, plainCap time.Duration }

// WaitInput is what wait_for_payment asks for.
type WaitInput struct {
	Identifier string
	Timeout    time.Duration // 0 means DefaultWait
	Targets    []string      // statuses that end the wait; empty means CO
	// Streaming says the caller hears from the wait while it lasts (a
	// progress token, so notifications every few seconds, or a task): it may
	// wait up to MaxWait. Otherwise a longer Timeout is cut to MaxPlainWait
	// and the result says so (Capped).
	Streaming bool
}

// WaitResult is the output of wait_for_payment.
type WaitResult struct {
	Identifier     string        `json:"identifier"`
	Status         string        `json:"status" jsonschema:"the last status seen"`
	Reached        bool          `json:"reached" jsonschema:"the payment reached one of the target statuses"`
	TimedOut       bool          `json:"timed_out" jsonschema:"the wait ended because its time passed while the payment is still open: call wait_for_payment again to keep waiting"`
	Capped         bool          `json:"capped,omitempty" jsonschema:"timeout_seconds was cut to 45 because the call carried no progress token (the client would time out first)"`
	Next           string        `json:"next,omitempty" jsonschema:"what to do now when the wait ended without an answer"`
	EndedTerminal  bool          `json:"ended_terminal" jsonschema:"the payment reached a final status that is not a target, so waiting longer is pointless"`
	TargetStatuses []string      `json:"target_statuses"`
	WaitedSeconds  float64       `json:"waited_seconds"`
	Checks         int           `json:"checks" jsonschema:"status reads made while waiting"`
	WokenByWebhook bool          `json:"woken_by_webhook" jsonschema:"a verified webhook ended the wait rather than polling"`
	Payment        *StatusResult `json:"payment,omitempty" jsonschema:"the payment as last read"`
	Sandbox        bool          `json:"sandbox,omitempty" jsonschema:"true in sandbox mode: no real payment exists"`
}

// Progress is reported while Wait waits.
type Progress struct {
	Elapsed, Total time.Duration
	Status         string
	Message        string
}

// Hub wakes waiters when a webhook for their payment arrives. The zero
// value is ready to use.
type Hub struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
}

// Notify wakes everyone waiting on the payment.
func (h *Hub) Notify(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[id] {
		select {
		case ch <- struct{}{}:
		default: // already has a wake-up pending
		}
	}
}

func (h *Hub) subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiters == nil {
		h.waiters = map[string]map[chan struct{}]struct{}{}
	}
	if h.waiters[id] == nil {
		h.waiters[id] = map[chan struct{}]struct{}{}
	}
	h.waiters[id][ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.waiters[id], ch)
		if len(h.waiters[id]) == 0 {
			delete(h.waiters, id)
		}
	}
}

// PaymentUpdated tells the service that a webhook for id was committed:
// waiters wake up and re-read the status.
func (s *Service) PaymentUpdated(id string) { s.hub.Notify(id) }

func checkTargets(targets []string) ([]string, error) {
	if len(targets) == 0 {
		return []string{"CO"}, nil
	}
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		t = strings.ToUpper(strings.TrimSpace(t))
		if _, ok := LookupStatus(t); !ok {
			return nil, invalidArg("target_statuses", fmt.Sprintf("%q is not a payment status (NR, PE, AC, IA, OC, CO, CA, EX, FA)", t))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Wait returns as soon as the payment reaches one of in.Targets, reaches a
// final status that is not a target, or in.Timeout passes. It re-reads the
// status from Bitnovo whenever a webhook for the payment arrives and polls
// in between (with backoff when webhooks are off). progress, if set, is
// called after every read and every few seconds while waiting.
func (s *Service) Wait(ctx context.Context, in WaitInput, progress func(Progress)) (*WaitResult, error) {
	if err := checkIdentifier(in.Identifier); err != nil {
		return nil, err
	}
	targets, err := checkTargets(in.Targets)
	if err != nil {
		return nil, err
	}
	if in.Timeout < 0 || in.Timeout > MaxWait {
		return nil, invalidArg("timeout_seconds", fmt.Sprintf("must be from 1 to %d", int(MaxWait.Seconds())))
	}
	res := &WaitResult{Identifier: in.Identifier, TargetStatuses: targets, Sandbox: s.sandbox}
	limit := cmp.Or(in.Timeout, DefaultWait)
	if !in.Streaming && limit > s.poll.plainCap {
		limit, res.Capped = s.poll.plainCap, true
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	wake, unsubscribe := s.hub.subscribe(in.Identifier)
	defer unsubscribe()

	start := s.now()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	beat := time.NewTicker(s.poll.heartbeat)
	defer beat.Stop()

	finish := func() *WaitResult {
		res.WaitedSeconds = float64(s.now().Sub(start).Milliseconds()) / 1000
		if res.Payment != nil {
			res.Status = res.Payment.Status
		}
		if res.TimedOut {
			res.Next = stillPending(res, limit)
		}
		return res
	}
	poll := s.poll.min
	if s.events != nil { // webhooks wake the wait
		poll = s.poll.webhook
	}
	byWebhook := false
	for {
		st, err := s.Status(ctx, in.Identifier)
		res.Checks++
		switch {
		case err == nil:
			res.Payment = st
			progress(Progress{Elapsed: s.now().Sub(start), Total: limit, Status: st.Status,
				Message: fmt.Sprintf("payment %s is %s (%s)", in.Identifier, st.Status, st.StatusName)})
			if slices.Contains(targets, st.Status) {
				res.Reached, res.WokenByWebhook = true, byWebhook
				return finish(), nil
			}
			if st.IsTerminal {
				res.EndedTerminal = true
				return finish(), nil
			}
		case isPermanent(err):
			return nil, err
		case ctx.Err() != nil:
			return nil, err
		default: // transient: keep waiting, the next read may work
			progress(Progress{Elapsed: s.now().Sub(start), Total: limit, Message: "status read failed, retrying: " + AsError(err).Message})
		}
		byWebhook = false
		timer := time.NewTimer(poll)
	wait:
		for {
			select {
			case <-wake:
				byWebhook = true
				break wait
			case <-timer.C:
				break wait
			case <-beat.C:
				last := ""
				if res.Payment != nil {
					last = res.Payment.Status
				}
				progress(Progress{Elapsed: s.now().Sub(start), Total: limit, Status: last, Message: "waiting for the payment"})
			case <-deadline.C:
				timer.Stop()
				res.TimedOut = true
				return finish(), nil
			case <-ctx.Done():
				timer.Stop()
				return nil, fmt.Errorf("wait for payment: %w", ctx.Err())
			}
		}
		timer.Stop()
		if s.events == nil {
			poll = min(poll*2, s.poll.max)
		}
	}
}

// stillPending is the advice of a wait that ran out of time.
func stillPending(res *WaitResult, waited time.Duration) string {
	status := "not readable right now"
	if res.Payment != nil {
		status = res.Payment.Status + " (" + res.Payment.StatusName + ")"
	}
	return fmt.Sprintf("still pending after %d s: the payment is %s. Call wait_for_payment again with the same identifier to keep waiting, "+
		"or ask the user; nothing was lost by stopping here", int(waited.Round(time.Second).Seconds()), status)
}

// isPermanent reports errors that waiting will not fix.
func isPermanent(err error) bool {
	switch AsError(err).Code {
	case CodePaymentNotFound, CodeInvalidArgument, CodeInvalidDeviceID:
		return true
	}
	return false
}

// WebhookEvent is the latest verified webhook of a payment, as shown next
// to its status.
type WebhookEvent struct {
	EventID    string `json:"event_id"`
	Status     string `json:"status"`
	ReceivedAt string `json:"received_at"`
}

// lastWebhook returns the newest verified webhook of id, or nil.
func (s *Service) lastWebhook(ctx context.Context, id string) *WebhookEvent {
	if s.events == nil {
		return nil
	}
	e, err := s.events.LatestEvent(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("read latest webhook", "error", err)
		}
		return nil
	}
	return &WebhookEvent{EventID: e.EventID, Status: e.Status, ReceivedAt: e.ReceivedAt.UTC().Format(time.RFC3339Nano)}
}
