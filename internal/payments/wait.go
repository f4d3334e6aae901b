package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// MaxWait is the longest wait_for_payment may wait.
const MaxWait = 300 * time.Second

// Poll intervals of Wait: with webhooks a verified delivery wakes the waiter
// and polling is only a safety net; without them the status is polled with
// backoff from pollMin up to pollMax.
const (
	pollMin         = time.Second
	pollMax         = 15 * time.Second
	pollWithWebhook = 30 * time.Second
	heartbeat       = 5 * time.Second
)

// pollTimes are Wait's intervals (shortened by tests).
type pollTimes struct{ min, max, webhook, heartbeat time.Duration }

// WaitInput is what wait_for_payment asks for.
type WaitInput struct {
	Identifier string
	Timeout    time.Duration
	Targets    []string // statuses that end the wait; empty means CO
}

// WaitResult is the output of wait_for_payment.
type WaitResult struct {
	Identifier     string        `json:"identifier"`
	Status         string        `json:"status" jsonschema:"the last status seen"`
	Reached        bool          `json:"reached" jsonschema:"the payment reached one of the target statuses"`
	TimedOut       bool          `json:"timed_out" jsonschema:"the wait ended because timeout_seconds passed"`
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
	if in.Timeout <= 0 || in.Timeout > MaxWait {
		return nil, invalidArg("timeout_seconds", fmt.Sprintf("must be from 1 to %d", int(MaxWait.Seconds())))
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	wake, unsubscribe := s.hub.subscribe(in.Identifier)
	defer unsubscribe()

	start := s.now()
	deadline := time.NewTimer(in.Timeout)
	defer deadline.Stop()
	beat := time.NewTicker(s.poll.heartbeat)
	defer beat.Stop()

	res := &WaitResult{Identifier: in.Identifier, TargetStatuses: targets, Sandbox: s.sandbox}
	finish := func() *WaitResult {
		res.WaitedSeconds = float64(s.now().Sub(start).Milliseconds()) / 1000
		if res.Payment != nil {
			res.Status = res.Payment.Status
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
			progress(Progress{Elapsed: s.now().Sub(start), Total: in.Timeout, Status: st.Status,
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
			progress(Progress{Elapsed: s.now().Sub(start), Total: in.Timeout, Message: "status read failed, retrying: " + AsError(err).Message})
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
				progress(Progress{Elapsed: s.now().Sub(start), Total: in.Timeout, Status: last, Message: "waiting for the payment"})
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
