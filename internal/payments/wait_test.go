package payments

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

const waitID = "00000000-0000-4000-8000-000000000042"

func (a *stubAPI) setStatus(id, status string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.info[id] = &bitnovo.OrderInfo{Identifier: id, Status: status, ExpiredTime: "2099-01-01T00:00:00Z"}
}

func newWaitService(t *testing.T, webhooks bool) (*Service, *stubAPI) {
	t.Helper()
	api := newStub()
	api.setStatus(waitID, "PE")
	s := New(api, store.NewMemory(), Options{})
	s.poll = pollTimes{min: 5 * time.Millisecond, max: 20 * time.Millisecond, webhook: time.Hour, heartbeat: 10 * time.Millisecond}
	if webhooks {
		s.events = store.NewMemory()
	}
	return s, api
}

func TestWaitReachesTargetByPolling(t *testing.T) {
	s, api := newWaitService(t, false)
	time.AfterFunc(60*time.Millisecond, func() { api.setStatus(waitID, "AC") })
	time.AfterFunc(120*time.Millisecond, func() { api.setStatus(waitID, "CO") })
	var mu sync.Mutex
	var seen []string
	res, err := s.Wait(context.Background(), WaitInput{Identifier: waitID, Timeout: 5 * time.Second}, func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Status != "" && (len(seen) == 0 || seen[len(seen)-1] != p.Status) {
			seen = append(seen, p.Status)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reached || res.TimedOut || res.Status != "CO" || res.Checks < 3 || res.WokenByWebhook {
		t.Fatalf("%+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 2 || seen[0] != "PE" || seen[len(seen)-1] != "CO" {
		t.Fatalf("progress statuses %v", seen)
	}
}

func TestWaitWakesOnWebhook(t *testing.T) {
	s, api := newWaitService(t, true) // polling every hour: only the wake-up can end it
	time.AfterFunc(50*time.Millisecond, func() {
		api.setStatus(waitID, "CO")
		s.PaymentUpdated(waitID)
	})
	start := time.Now()
	res, err := s.Wait(context.Background(), WaitInput{Identifier: waitID, Timeout: 10 * time.Second, Targets: []string{"co"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reached || !res.WokenByWebhook || res.Checks != 2 || time.Since(start) > 5*time.Second {
		t.Fatalf("%+v", res)
	}
}

func TestWaitEnds(t *testing.T) {
	tests := []struct {
		name     string
		status   string
		targets  []string
		timeout  time.Duration
		reached  bool
		timedOut bool
		terminal bool
	}{
		{"times out", "PE", nil, 80 * time.Millisecond, false, true, false},
		{"final but not a target", "EX", nil, time.Second, false, false, true},
		{"already there", "AC", []string{"AC", "CO"}, time.Second, true, false, false},
		{"cancelled is a target", "CA", []string{"CA"}, time.Second, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, api := newWaitService(t, false)
			api.setStatus(waitID, tt.status)
			res, err := s.Wait(context.Background(), WaitInput{Identifier: waitID, Timeout: tt.timeout, Targets: tt.targets}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Reached != tt.reached || res.TimedOut != tt.timedOut || res.EndedTerminal != tt.terminal || res.Status != tt.status {
				t.Fatalf("%+v", res)
			}
		})
	}
}

func TestWaitRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   WaitInput
		code string
	}{
		{"unknown payment", WaitInput{Identifier: "00000000-0000-4000-8000-000000000099", Timeout: time.Second}, CodePaymentNotFound},
		{"bad identifier", WaitInput{Identifier: "nope", Timeout: time.Second}, CodeInvalidArgument},
		{"bad target", WaitInput{Identifier: waitID, Timeout: time.Second, Targets: []string{"PAID"}}, CodeInvalidArgument},
		{"too long", WaitInput{Identifier: waitID, Timeout: 301 * time.Second}, CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newWaitService(t, false)
			_, err := s.Wait(context.Background(), tt.in, nil)
			if err == nil || AsError(err).Code != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}
}

func TestWaitHonoursCancellation(t *testing.T) {
	s, _ := newWaitService(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Wait(ctx, WaitInput{Identifier: waitID, Timeout: 10 * time.Second}, nil); err == nil {
		t.Fatal("want an error after cancellation")
	}
}
