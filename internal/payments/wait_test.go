package payments

import (
	"context"
	"strings"
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
	s.poll = pollTimes{min: 5 * time.Millisecond, max: 20 * time.Millisecond, webhook: time.Hour, heartbeat: 10 * time.Millisecond, plainCap: MaxPlainWait}
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

// A call without progress notifications must end inside the clients' 60 s
// request timeout: a longer timeout is cut, and the result says to call
// again.
func TestWaitWithoutProgressIsCapped(t *testing.T) {
	s, _ := newWaitService(t, false)
	s.poll.plainCap = 60 * time.Millisecond // stands for MaxPlainWait
	res, err := s.Wait(context.Background(), WaitInput{Identifier: waitID, Timeout: MaxWait}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || !res.Capped || res.Reached || res.Status != "PE" {
		t.Fatalf("%+v", res)
	}
	if !strings.Contains(res.Next, "still pending") || !strings.Contains(res.Next, "Call wait_for_payment again") {
		t.Fatalf("next = %q", res.Next)
	}
	if res.WaitedSeconds > 5 {
		t.Fatalf("waited %v s, want the cap", res.WaitedSeconds)
	}
}

// With progress the caller may wait past the plain cap, and hears from the
// wait every heartbeat meanwhile.
func TestWaitStreamingOutlastsThePlainCap(t *testing.T) {
	s, api := newWaitService(t, false)
	s.poll.plainCap = 20 * time.Millisecond
	s.poll.min, s.poll.max = time.Hour, time.Hour // only the heartbeat speaks
	var mu sync.Mutex
	beats := 0
	done := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() {
		api.setStatus(waitID, "CO")
		close(done)
	})
	res, err := s.Wait(context.Background(), WaitInput{Identifier: waitID, Timeout: 400 * time.Millisecond, Streaming: true}, func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Message == "waiting for the payment" {
			beats++
		}
		if p.Total != 400*time.Millisecond {
			t.Errorf("progress total %v, want the requested timeout", p.Total)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if res.Capped || !res.TimedOut || res.Next == "" {
		t.Fatalf("%+v", res) // polls hourly: the CO is not read, the full 400 ms pass
	}
	mu.Lock()
	defer mu.Unlock()
	if beats < 3 {
		t.Fatalf("%d heartbeats in 400 ms at a 10 ms heartbeat", beats)
	}
}

func TestWaitDefaultsFitTheClients(t *testing.T) {
	const tsSDKDefault = 60 * time.Second // DEFAULT_REQUEST_TIMEOUT_MSEC, docs/waits.md
	if DefaultWait > MaxPlainWait || MaxPlainWait > tsSDKDefault-10*time.Second || heartbeat > 10*time.Second {
		t.Fatalf("default %v, plain cap %v, heartbeat %v: a plain call must end ≥ 10 s inside %v", DefaultWait, MaxPlainWait, heartbeat, tsSDKDefault)
	}
	s, api := newWaitService(t, false)
	api.setStatus(waitID, "CO")
	res, err := s.Wait(context.Background(), WaitInput{Identifier: waitID}, nil) // Timeout 0: the default
	if err != nil || !res.Reached || res.Capped {
		t.Fatalf("%+v %v", res, err)
	}
}
