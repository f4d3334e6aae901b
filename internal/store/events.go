package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// WatchQueueSize is how many committed events a watcher may fall behind
// before its oldest undelivered ones are dropped.
const WatchQueueSize = 1024

// defaultEventLimit is EventQuery.Limit when it is not positive.
const defaultEventLimit = 50

// prepareEvent fills the defaults SaveEvent documents and checks BodyHash.
func prepareEvent(e Event) (Event, error) {
	sum := sha256.Sum256(e.Payload)
	h := hex.EncodeToString(sum[:])
	switch {
	case e.BodyHash == "":
		e.BodyHash = h
	case e.BodyHash != h:
		return Event{}, fmt.Errorf("save event: body hash %q is not the SHA-256 of the payload", e.BodyHash)
	}
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = time.Now()
	}
	e.ReceivedAt = time.UnixMilli(e.ReceivedAt.UnixMilli())
	if e.EventID == "" {
		e.EventID = e.Identifier + ":" + e.Nonce
	}
	e.Payload = append([]byte{}, e.Payload...) // the caller may reuse its buffer
	return e, nil
}

// suffixedID is the n-th (n ≥ 2) alternative id for an event whose id is
// held by another body.
func suffixedID(id string, n int) string { return id + "#" + strconv.Itoa(n) }

// maxIDSuffix bounds the search for a free event id.
const maxIDSuffix = 10000

func errIDExhausted(id string) error {
	return fmt.Errorf("save event: no free event id for %q after %d suffixes", id, maxIDSuffix)
}

func eventLimit(n int) int {
	if n <= 0 {
		return defaultEventLimit
	}
	return n
}

// hub fans committed events out to watchers. publish never blocks: each
// watcher has its own goroutine and a bounded queue that drops its oldest
// entry when full, so order is preserved and a slow watcher only loses its
// own backlog.
type hub struct {
	mu       sync.Mutex
	closed   bool
	watchers map[*watcher]struct{}
	wg       sync.WaitGroup
}

type watcher struct {
	mu      sync.Mutex
	queue   []Event
	wake    chan struct{} // capacity 1
	stop    chan struct{} // closed by hub.close
	stopped bool
}

// watch registers fn until ctx ends or the hub closes.
func (h *hub) watch(ctx context.Context, fn func(Event)) error {
	if fn == nil {
		return fmt.Errorf("watch events: nil callback")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &watcher{wake: make(chan struct{}, 1), stop: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	if h.watchers == nil {
		h.watchers = map[*watcher]struct{}{}
	}
	h.watchers[w] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		defer h.remove(w)
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.stop:
				return
			case <-w.wake:
			}
			for {
				w.mu.Lock()
				if len(w.queue) == 0 {
					w.mu.Unlock()
					break
				}
				e := w.queue[0]
				w.queue[0] = Event{}
				w.queue = w.queue[1:]
				w.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-w.stop:
					return
				default:
				}
				fn(e)
			}
		}
	}()
	return nil
}

func (h *hub) remove(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

// publish queues events, in order, for every watcher.
func (h *hub) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		w.mu.Lock()
		for _, e := range events {
			if len(w.queue) >= WatchQueueSize {
				w.queue[0] = Event{}
				w.queue = w.queue[1:]
			}
			w.queue = append(w.queue, e)
		}
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// close stops every watcher goroutine and waits for them.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	for w := range h.watchers {
		if !w.stopped {
			w.stopped = true
			close(w.stop)
		}
	}
	h.mu.Unlock()
	h.wg.Wait()
}
