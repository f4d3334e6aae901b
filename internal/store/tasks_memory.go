package store

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"
)

// tasksMemory implements Tasks for Memory.
type tasksMemory struct {
	tmu   sync.Mutex
	tasks map[string]Task
}

var _ Tasks = (*Memory)(nil)

// live returns the stored task id if it exists and has not expired.
func (m *tasksMemory) live(id string, now time.Time) (Task, bool) {
	t, ok := m.tasks[id]
	if !ok || !t.ExpiresAt.After(now) {
		return Task{}, false
	}
	return t, true
}

// copyTask returns t with its byte slices cloned, so callers cannot reach
// the stored copy.
func copyTask(t Task) Task {
	for _, b := range []*[]byte{&t.Params, &t.Result, &t.Error, &t.InputRequests, &t.InputResponses} {
		*b = bytes.Clone(*b)
	}
	return t
}

func normTask(t Task) Task {
	t.CreatedAt, t.UpdatedAt, t.ExpiresAt, t.LeaseUntil = ms(t.CreatedAt), ms(t.UpdatedAt), ms(t.ExpiresAt), ms(t.LeaseUntil)
	t.PollInterval = t.PollInterval.Truncate(time.Millisecond)
	return copyTask(t)
}

// CreateTask implements Tasks.
func (m *tasksMemory) CreateTask(_ context.Context, t Task, maxActive int, now time.Time) error {
	m.tmu.Lock()
	defer m.tmu.Unlock()
	if m.tasks == nil {
		m.tasks = map[string]Task{}
	}
	if maxActive > 0 {
		n := 0
		for _, o := range m.tasks {
			if o.Owner == t.Owner && !TaskTerminal(o.Status) && o.ExpiresAt.After(now) {
				n++
			}
		}
		if n >= maxActive {
			return ErrTaskLimit
		}
	}
	m.tasks[t.ID] = normTask(t)
	return nil
}

// GetTask implements Tasks.
func (m *tasksMemory) GetTask(_ context.Context, owner, id string, now time.Time) (Task, error) {
	m.tmu.Lock()
	defer m.tmu.Unlock()
	t, ok := m.live(id, now)
	if !ok || t.Owner != owner {
		return Task{}, ErrNotFound
	}
	return copyTask(t), nil
}

// UpdateTask implements Tasks.
func (m *tasksMemory) UpdateTask(_ context.Context, id, holder string, u TaskUpdate, now time.Time) (Task, error) {
	m.tmu.Lock()
	defer m.tmu.Unlock()
	t, ok := m.live(id, now)
	if !ok {
		return Task{}, ErrNotFound
	}
	if TaskTerminal(t.Status) || t.LeaseHolder != holder {
		return copyTask(t), nil
	}
	applyUpdate(&t, u, now)
	m.tasks[id] = normTask(t)
	return copyTask(t), nil
}

func applyUpdate(t *Task, u TaskUpdate, now time.Time) {
	if u.Status != "" {
		t.Status = u.Status
	}
	t.StatusMessage = u.StatusMessage
	if u.Params != nil {
		t.Params = u.Params
	}
	if u.InputRequests != nil {
		t.InputRequests = u.InputRequests
	}
	t.UpdatedAt = ms(now)
}

// FinishTask implements Tasks.
func (m *tasksMemory) FinishTask(_ context.Context, id, status, message string, result, rpcErr []byte, now time.Time) (bool, error) {
	m.tmu.Lock()
	defer m.tmu.Unlock()
	t, ok := m.live(id, now)
	if !ok {
		return false, ErrNotFound
	}
	if TaskTerminal(t.Status) {
		return false, nil
	}
	t.Status, t.StatusMessage, t.Result, t.Error, t.InputRequests = status, message, result, rpcErr, nil
	t.UpdatedAt = ms(now)
	m.tasks[id] = normTask(t)
	return true, nil
}

// CancelTask implements Tasks.
func (m *tasksMemory) CancelTask(_ context.Context, owner, id, message string, now time.Time) (Task, error) {
	m.tmu.Lock()
	defer m.tmu.Unlock()
	t, ok := m.live(id, now)
	if !ok || t.Owner != owner {
		return Task{}, ErrNotFound
	}
	if !TaskTerminal(t.Status) {
		t.Status, t.StatusMessage, t.InputRequests = TaskCancelled, message, nil
		t.UpdatedAt = ms(now)
		m.tasks[id] = normTask(t)
	}
	return copyTask(t), nil
}

// AnswerTask implements Tasks.
func (m *tasksMemory) AnswerTask(_ context.Context, owner, id string, responses []byte, now time.Time) (Task, error) {
	m.tmu.Lock()
	defer m.tmu.Unlock()
	t, ok := m.live(id, now)
	if !ok || t.Owner != owner {
		return Task{}, ErrNotFound
	}
	if TaskTerminal(t.Status) {
		return copyTask(t), nil
	}
	merged, err := mergeResponses(t.InputRequests, t.InputResponses, responses)
	if err != nil {
		return Task{}, err
	}
	if merged != nil {
		t.InputResponses = merged
		t.UpdatedAt = ms(now)
		m.tasks[id] = normTask(t)
	}
	return copyTask(t), nil
}

// ClaimTask implements Tasks.
func (m *tasksMemory) ClaimTask(_ context.Context, id, holder string, now, until time.Time) (Task, bool, error) {
	m.tmu.Lock()
	defer m.tmu.Unlock()
	t, ok := m.live(id, now)
	if !ok || TaskTerminal(t.Status) {
		return Task{}, false, nil
	}
	if t.LeaseHolder != holder && t.LeaseUntil.After(now) {
		return Task{}, false, nil
	}
	t.LeaseHolder, t.LeaseUntil = holder, until
	m.tasks[id] = normTask(t)
	return copyTask(m.tasks[id]), true, nil
}

// OrphanedTasks implements Tasks.
func (m *tasksMemory) OrphanedTasks(_ context.Context, now time.Time, limit int) ([]Task, error) {
	m.tmu.Lock()
	defer m.tmu.Unlock()
	var out []Task
	for _, t := range m.tasks {
		if !TaskTerminal(t.Status) && t.ExpiresAt.After(now) && !t.LeaseUntil.After(now) {
			out = append(out, copyTask(t))
		}
	}
	slices.SortFunc(out, func(a, b Task) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// PruneTasks implements Tasks.
func (m *tasksMemory) PruneTasks(_ context.Context, now time.Time) (int64, error) {
	m.tmu.Lock()
	defer m.tmu.Unlock()
	var n int64
	for id, t := range m.tasks {
		if !t.ExpiresAt.After(now) {
			delete(m.tasks, id)
			n++
		}
	}
	return n, nil
}
