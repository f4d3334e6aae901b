package mcpserver

import "sync"

// quota counts what each key (a caller, a session) holds against one cap,
// for anything a client can accumulate on the server: resource
// subscriptions today, subscriptions/listen streams next. A cap of 0 or
// less means no cap. It is safe for concurrent use.
type quota struct {
	max int

	mu   sync.Mutex
	held map[string]int
}

func newQuota(max int) *quota { return &quota{max: max, held: map[string]int{}} }

// acquire takes one unit for key, or reports false when key holds the cap.
func (q *quota) acquire(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.max > 0 && q.held[key] >= q.max {
		return false
	}
	q.held[key]++
	return true
}

// full reports whether key holds the cap (a cheap check before work that
// acquire would then refuse).
func (q *quota) full(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.max > 0 && q.held[key] >= q.max
}

// release gives n units of key back.
func (q *quota) release(key string, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.held[key] -= n; q.held[key] <= 0 {
		delete(q.held, key)
	}
}

// count is what key holds now.
func (q *quota) count(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.held[key]
}
