package store

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// eventsMemory is the Events part of Memory; its zero value is ready. One
// mutex serialises everything, and watchers are fed under it, so they see
// commit order.
type eventsMemory struct {
	mu      sync.Mutex
	seq     int64
	events  map[int64]Event  // by commit sequence
	byHash  map[string]int64 // BodyHash → seq
	byID    map[string]int64 // EventID → seq
	replays map[string]time.Time
	hub     hub
}

var _ Events = (*eventsMemory)(nil)

// SaveEvent implements Events.
func (m *eventsMemory) SaveEvent(ctx context.Context, e Event, replayKey string, replayUntil time.Time) (SaveResult, error) {
	if err := ctx.Err(); err != nil {
		return SaveResult{}, err
	}
	e, err := prepareEvent(e)
	if err != nil {
		return SaveResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events == nil {
		m.events, m.byHash, m.byID, m.replays = map[int64]Event{}, map[string]int64{}, map[string]int64{}, map[string]time.Time{}
	}
	if replayKey != "" {
		if until, ok := m.replays[replayKey]; ok && until.After(e.ReceivedAt) {
			return SaveResult{}, ErrReplay
		}
	}
	if seq, ok := m.byHash[e.BodyHash]; ok {
		if replayKey != "" {
			m.replays[replayKey] = replayUntil
		}
		return SaveResult{Event: cloneEvent(m.events[seq]), Duplicate: true}, nil
	}
	id := e.EventID
	for n := 2; ; n++ {
		if _, taken := m.byID[id]; !taken {
			break
		}
		if n > maxIDSuffix {
			return SaveResult{}, errIDExhausted(e.EventID)
		}
		id = suffixedID(e.EventID, n)
	}
	e.EventID = id
	if replayKey != "" {
		m.replays[replayKey] = replayUntil
	}
	m.seq++
	m.events[m.seq] = e
	m.byHash[e.BodyHash] = m.seq
	m.byID[e.EventID] = m.seq
	m.hub.publish([]Event{cloneEvent(e)})
	return SaveResult{Event: cloneEvent(e)}, nil
}

type seqEvent struct {
	seq int64
	e   Event
}

// newestFirst orders by ReceivedAt, then commit order, both descending.
func newestFirst(a, b seqEvent) int {
	if c := b.e.ReceivedAt.Compare(a.e.ReceivedAt); c != 0 {
		return c
	}
	return cmp.Compare(b.seq, a.seq)
}

func (m *eventsMemory) sortedLocked(keep func(Event) bool) []seqEvent {
	out := make([]seqEvent, 0, len(m.events))
	for seq, e := range m.events {
		if keep == nil || keep(e) {
			out = append(out, seqEvent{seq, e})
		}
	}
	slices.SortFunc(out, newestFirst)
	return out
}

// ListEvents implements Events.
func (m *eventsMemory) ListEvents(_ context.Context, q EventQuery) ([]Event, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.sortedLocked(func(e Event) bool {
		return (q.Identifier == "" || e.Identifier == q.Identifier) && (!q.ValidatedOnly || e.Validated)
	})
	n := min(len(all), eventLimit(q.Limit))
	out := make([]Event, n)
	for i := range n {
		out[i] = cloneEvent(all[i].e)
	}
	return out, len(all), nil
}

// LatestEvent implements Events.
func (m *eventsMemory) LatestEvent(_ context.Context, identifier string) (Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.sortedLocked(func(e Event) bool { return e.Identifier == identifier && e.Validated })
	if len(all) == 0 {
		return Event{}, ErrNotFound
	}
	return cloneEvent(all[0].e), nil
}

// PruneEvents implements Events.
func (m *eventsMemory) PruneEvents(_ context.Context, maxEvents int, olderThan, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for i, se := range m.sortedLocked(nil) {
		if (maxEvents > 0 && i >= maxEvents) || (!olderThan.IsZero() && se.e.ReceivedAt.Before(olderThan)) {
			delete(m.events, se.seq)
			delete(m.byHash, se.e.BodyHash)
			delete(m.byID, se.e.EventID)
			n++
		}
	}
	for k, until := range m.replays {
		if !until.After(now) {
			delete(m.replays, k)
		}
	}
	return n, nil
}

// EventStats implements Events.
func (m *eventsMemory) EventStats(_ context.Context) (EventStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var st EventStats
	ids := map[string]struct{}{}
	for _, e := range m.events {
		st.TotalEvents++
		ids[e.Identifier] = struct{}{}
		if e.Validated {
			st.ValidatedCount++
		}
		if st.Oldest == nil || e.ReceivedAt.Before(*st.Oldest) {
			t := e.ReceivedAt
			st.Oldest = &t
		}
		if st.Newest == nil || e.ReceivedAt.After(*st.Newest) {
			t := e.ReceivedAt
			st.Newest = &t
		}
	}
	st.UniqueIdentifiers = int64(len(ids))
	st.UnvalidatedCount = st.TotalEvents - st.ValidatedCount
	st.ReplayKeys = int64(len(m.replays))
	return st, nil
}

// WatchEvents implements Events.
func (m *eventsMemory) WatchEvents(ctx context.Context, fn func(Event)) error {
	return m.hub.watch(ctx, fn)
}

func cloneEvent(e Event) Event {
	e.Payload = append([]byte{}, e.Payload...)
	return e
}
