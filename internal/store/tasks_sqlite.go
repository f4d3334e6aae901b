package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

var _ Tasks = (*SQLite)(nil)

const taskColumns = `id, owner, tool, status, status_message, params, result, error, input_requests, input_responses,
	poll_interval_ms, created_at, updated_at, expires_at, lease_holder, lease_until`

func scanTask(r rowScanner) (Task, error) {
	var t Task
	var poll, created, updated, expires, lease int64
	if err := r.Scan(&t.ID, &t.Owner, &t.Tool, &t.Status, &t.StatusMessage, &t.Params, &t.Result, &t.Error,
		&t.InputRequests, &t.InputResponses, &poll, &created, &updated, &expires, &t.LeaseHolder, &lease); err != nil {
		return Task{}, err
	}
	t.PollInterval = time.Duration(poll) * time.Millisecond
	t.CreatedAt, t.UpdatedAt, t.ExpiresAt, t.LeaseUntil = time.UnixMilli(created), time.UnixMilli(updated), time.UnixMilli(expires), time.UnixMilli(lease)
	return t, nil
}

// CreateTask implements Tasks: the count and the insert share one
// IMMEDIATE transaction, so the cap holds across processes.
func (s *SQLite) CreateTask(ctx context.Context, t Task, maxActive int, now time.Time) error {
	return s.inTx(ctx, "create task", func(tx *sql.Tx) error {
		if maxActive > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tasks WHERE owner = ? AND status IN (?, ?) AND expires_at > ?`,
				t.Owner, TaskWorking, TaskInputRequired, now.UnixMilli()).Scan(&n); err != nil {
				return err
			}
			if n >= maxActive {
				return ErrTaskLimit
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tasks (`+taskColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Owner, t.Tool, t.Status, t.StatusMessage, t.Params, t.Result, t.Error, t.InputRequests, t.InputResponses,
			t.PollInterval.Milliseconds(), t.CreatedAt.UnixMilli(), t.UpdatedAt.UnixMilli(), t.ExpiresAt.UnixMilli(), t.LeaseHolder, t.LeaseUntil.UnixMilli())
		return err
	})
}

// inTx runs fn in a transaction; errors of the store's own (ErrNotFound,
// ErrTaskLimit) pass through unwrapped.
func (s *SQLite) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrTaskLimit) {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// liveTask reads an unexpired task (of owner, unless owner is nil).
func liveTask(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string, owner *string, now time.Time) (Task, error) {
	t, err := scanTask(q.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = ? AND expires_at > ?`, id, now.UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != nil && t.Owner != *owner) {
		return Task{}, ErrNotFound
	}
	return t, err
}

// GetTask implements Tasks.
func (s *SQLite) GetTask(ctx context.Context, owner, id string, now time.Time) (Task, error) {
	t, err := liveTask(ctx, s.db, id, &owner, now)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Task{}, fmt.Errorf("get task: %w", err)
	}
	return t, err
}

// writeTask stores the mutable fields of t.
func writeTask(ctx context.Context, tx *sql.Tx, t Task) error {
	_, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, status_message = ?, params = ?, result = ?, error = ?,
		input_requests = ?, input_responses = ?, updated_at = ?, lease_holder = ?, lease_until = ? WHERE id = ?`,
		t.Status, t.StatusMessage, t.Params, t.Result, t.Error, t.InputRequests, t.InputResponses, t.UpdatedAt.UnixMilli(),
		t.LeaseHolder, t.LeaseUntil.UnixMilli(), t.ID)
	return err
}

// UpdateTask implements Tasks.
func (s *SQLite) UpdateTask(ctx context.Context, id, holder string, u TaskUpdate, now time.Time) (t Task, err error) {
	err = s.inTx(ctx, "update task", func(tx *sql.Tx) (err error) {
		t, err = txUpdateTask(ctx, sqliteTaskTx{tx}, id, holder, u, now)
		return err
	})
	return t, err
}

// FinishTask implements Tasks.
func (s *SQLite) FinishTask(ctx context.Context, id, status, message string, result, rpcErr []byte, now time.Time) (done bool, err error) {
	err = s.inTx(ctx, "finish task", func(tx *sql.Tx) (err error) {
		done, err = txFinishTask(ctx, sqliteTaskTx{tx}, id, status, message, result, rpcErr, now)
		return err
	})
	return done, err
}

// CancelTask implements Tasks.
func (s *SQLite) CancelTask(ctx context.Context, owner, id, message string, now time.Time) (t Task, err error) {
	err = s.inTx(ctx, "cancel task", func(tx *sql.Tx) (err error) {
		t, err = txCancelTask(ctx, sqliteTaskTx{tx}, owner, id, message, now)
		return err
	})
	return t, err
}

// AnswerTask implements Tasks.
func (s *SQLite) AnswerTask(ctx context.Context, owner, id string, responses []byte, now time.Time) (t Task, err error) {
	err = s.inTx(ctx, "answer task", func(tx *sql.Tx) (err error) {
		t, err = txAnswerTask(ctx, sqliteTaskTx{tx}, owner, id, responses, now)
		return err
	})
	return t, err
}

// ClaimTask implements Tasks.
func (s *SQLite) ClaimTask(ctx context.Context, id, holder string, now, until time.Time) (t Task, ok bool, err error) {
	err = s.inTx(ctx, "claim task", func(tx *sql.Tx) (err error) {
		t, ok, err = txClaimTask(ctx, sqliteTaskTx{tx}, id, holder, now, until)
		return err
	})
	return t, ok && err == nil, err
}

// OrphanedTasks implements Tasks.
func (s *SQLite) OrphanedTasks(ctx context.Context, now time.Time, limit int) ([]Task, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE status IN (?, ?) AND expires_at > ? AND lease_until <= ? ORDER BY created_at LIMIT ?`,
		TaskWorking, TaskInputRequired, now.UnixMilli(), now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("orphaned tasks: %w", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("orphaned tasks: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// PruneTasks implements Tasks.
func (s *SQLite) PruneTasks(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM tasks WHERE expires_at <= ?`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("prune tasks: %w", err)
	}
	return res.RowsAffected()
}

// sqliteTaskTx is a SQLite transaction as a taskTx (the store begins every
// transaction IMMEDIATE, taking the write lock: no row lock needed).
type sqliteTaskTx struct{ tx *sql.Tx }

func (q sqliteTaskTx) live(ctx context.Context, id string, owner *string, now time.Time) (Task, error) {
	return liveTask(ctx, q.tx, id, owner, now)
}

func (q sqliteTaskTx) write(ctx context.Context, t Task) error { return writeTask(ctx, q.tx, t) }
