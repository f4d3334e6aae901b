package store

import (
	"context"
	"errors"
	"time"
)

// taskTx is one SQL transaction of a backend (SQLite, PostgreSQL) as the
// task mutations need it: read a live task, locked against concurrent
// writers, and write it back. The mutations themselves are written once,
// below, for both backends.
type taskTx interface {
	// live reads the unexpired task id (of owner, unless owner is nil),
	// or ErrNotFound.
	live(ctx context.Context, id string, owner *string, now time.Time) (Task, error)
	write(ctx context.Context, t Task) error
}

// mutateTask reads task id in tx, lets change edit it and writes it back
// when change says so.
func mutateTask(ctx context.Context, tx taskTx, id string, owner *string, now time.Time, change func(t *Task) (bool, error)) (Task, error) {
	t, err := tx.live(ctx, id, owner, now)
	if err != nil {
		return t, err
	}
	if ok, err := change(&t); err != nil || !ok {
		return t, err
	}
	return t, tx.write(ctx, t)
}

// txUpdateTask is Tasks.UpdateTask within tx.
func txUpdateTask(ctx context.Context, tx taskTx, id, holder string, u TaskUpdate, now time.Time) (Task, error) {
	return mutateTask(ctx, tx, id, nil, now, func(t *Task) (bool, error) {
		if TaskTerminal(t.Status) || t.LeaseHolder != holder {
			return false, nil
		}
		applyUpdate(t, u, now)
		return true, nil
	})
}

// txFinishTask is Tasks.FinishTask within tx.
func txFinishTask(ctx context.Context, tx taskTx, id, status, message string, result, rpcErr []byte, now time.Time) (bool, error) {
	done := false
	_, err := mutateTask(ctx, tx, id, nil, now, func(t *Task) (bool, error) {
		if TaskTerminal(t.Status) {
			return false, nil
		}
		t.Status, t.StatusMessage, t.Result, t.Error, t.InputRequests, t.UpdatedAt = status, message, result, rpcErr, nil, ms(now)
		done = true
		return true, nil
	})
	return done, err
}

// txCancelTask is Tasks.CancelTask within tx.
func txCancelTask(ctx context.Context, tx taskTx, owner, id, message string, now time.Time) (Task, error) {
	return mutateTask(ctx, tx, id, &owner, now, func(t *Task) (bool, error) {
		if TaskTerminal(t.Status) {
			return false, nil
		}
		t.Status, t.StatusMessage, t.InputRequests, t.UpdatedAt = TaskCancelled, message, nil, ms(now)
		return true, nil
	})
}

// txAnswerTask is Tasks.AnswerTask within tx.
func txAnswerTask(ctx context.Context, tx taskTx, owner, id string, responses []byte, now time.Time) (Task, error) {
	return mutateTask(ctx, tx, id, &owner, now, func(t *Task) (bool, error) {
		if TaskTerminal(t.Status) {
			return false, nil
		}
		merged, err := mergeResponses(t.InputRequests, t.InputResponses, responses)
		if err != nil || merged == nil {
			return false, err
		}
		t.InputResponses, t.UpdatedAt = merged, ms(now)
		return true, nil
	})
}

// txClaimTask is Tasks.ClaimTask within tx: a task gone is no error, just
// not claimed.
func txClaimTask(ctx context.Context, tx taskTx, id, holder string, now, until time.Time) (Task, bool, error) {
	ok := false
	t, err := mutateTask(ctx, tx, id, nil, now, func(t *Task) (bool, error) {
		if TaskTerminal(t.Status) || (t.LeaseHolder != holder && t.LeaseUntil.After(now)) {
			return false, nil
		}
		t.LeaseHolder, t.LeaseUntil, ok = holder, ms(until), true
		return true, nil
	})
	if errors.Is(err, ErrNotFound) {
		return t, false, nil
	}
	return t, ok && err == nil, err
}
