package store

import (
	"context"
	"errors"
	"sync"
)

// pgWatchQueueSize is how many events a watcher of a *Postgres may fall
// behind before its oldest undelivered ones are dropped.
//
// pgFanout has the semantics of the fan-out the other backends get on the
// webhook branch (its hub and WatchQueueSize); once that lands, this file
// goes and eventHub uses hub.
const pgWatchQueueSize = 1024

// pgFanout gives events to watchers. publish never blocks: each watcher has
// its own goroutine and a bounded queue that drops its oldest entry when
// full, so order is kept and a slow watcher only loses its own backlog.
type pgFanout struct {
	mu       sync.Mutex
	closed   bool
	watchers map[*pgFanWatcher]struct{}
	wg       sync.WaitGroup
}

type pgFanWatcher struct {
	mu      sync.Mutex
	queue   []Event
	wake    chan struct{} // capacity 1
	stop    chan struct{} // closed by close
	stopped bool
}

// watch registers fn until ctx ends or the fan-out closes.
func (h *pgFanout) watch(ctx context.Context, fn func(Event)) error {
	if fn == nil {
		return errors.New("watch events: nil callback")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &pgFanWatcher{wake: make(chan struct{}, 1), stop: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	if h.watchers == nil {
		h.watchers = map[*pgFanWatcher]struct{}{}
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

func (h *pgFanout) remove(w *pgFanWatcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

// publish queues events, in order, for every watcher.
func (h *pgFanout) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		w.mu.Lock()
		for _, e := range events {
			if len(w.queue) >= pgWatchQueueSize {
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
func (h *pgFanout) close() {
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
