package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

var _ Tasks = (*Postgres)(nil)

// taskLockKey namespaces the per-owner advisory lock of CreateTask; the
// second key is hashtext(owner).
const taskLockKey = 0x43_50_4d_03 // "CPM" 3

// pgTx runs fn in a transaction; the store's own errors pass through
// unwrapped.
func (s *Postgres) pgTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, fn)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrTaskLimit) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return err
}

// CreateTask implements Tasks. An advisory lock on the owner serialises
// the count and the insert on every replica, so the cap holds.
func (s *Postgres) CreateTask(ctx context.Context, t Task, maxActive int, now time.Time) error {
	return s.pgTx(ctx, "create task", func(tx pgx.Tx) error {
		if maxActive > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, taskLockKey, t.Owner); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM tasks WHERE owner = $1 AND status IN ($2, $3) AND expires_at > $4`,
				t.Owner, TaskWorking, TaskInputRequired, now.UnixMilli()).Scan(&n); err != nil {
				return err
			}
			if n >= maxActive {
				return ErrTaskLimit
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO tasks (`+taskColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			t.ID, t.Owner, t.Tool, t.Status, t.StatusMessage, t.Params, t.Result, t.Error, t.InputRequests, t.InputResponses,
			t.PollInterval.Milliseconds(), t.CreatedAt.UnixMilli(), t.UpdatedAt.UnixMilli(), t.ExpiresAt.UnixMilli(), t.LeaseHolder, t.LeaseUntil.UnixMilli())
		return err
	})
}

// pgLiveTask reads an unexpired task (of owner, unless owner is nil); lock
// adds FOR UPDATE.
func pgLiveTask(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id string, owner *string, now time.Time, lock bool) (Task, error) {
	query := `SELECT ` + taskColumns + ` FROM tasks WHERE id = $1 AND expires_at > $2`
	if lock {
		query += ` FOR UPDATE`
	}
	t, err := scanTask(q.QueryRow(ctx, query, id, now.UnixMilli()))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && owner != nil && t.Owner != *owner) {
		return Task{}, ErrNotFound
	}
	return t, err
}

// GetTask implements Tasks.
func (s *Postgres) GetTask(ctx context.Context, owner, id string, now time.Time) (Task, error) {
	t, err := pgLiveTask(ctx, s.pool, id, &owner, now, false)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Task{}, fmt.Errorf("get task: %w", err)
	}
	return t, err
}

func pgWriteTask(ctx context.Context, tx pgx.Tx, t Task) error {
	_, err := tx.Exec(ctx, `UPDATE tasks SET status = $1, status_message = $2, params = $3, result = $4, error = $5,
		input_requests = $6, input_responses = $7, updated_at = $8, lease_holder = $9, lease_until = $10 WHERE id = $11`,
		t.Status, t.StatusMessage, t.Params, t.Result, t.Error, t.InputRequests, t.InputResponses, t.UpdatedAt.UnixMilli(),
		t.LeaseHolder, t.LeaseUntil.UnixMilli(), t.ID)
	return err
}

// UpdateTask implements Tasks.
func (s *Postgres) UpdateTask(ctx context.Context, id, holder string, u TaskUpdate, now time.Time) (t Task, err error) {
	err = s.pgTx(ctx, "update task", func(tx pgx.Tx) (err error) {
		t, err = txUpdateTask(ctx, pgTaskTx{tx}, id, holder, u, now)
		return err
	})
	return t, err
}

// FinishTask implements Tasks.
func (s *Postgres) FinishTask(ctx context.Context, id, status, message string, result, rpcErr []byte, now time.Time) (done bool, err error) {
	err = s.pgTx(ctx, "finish task", func(tx pgx.Tx) (err error) {
		done, err = txFinishTask(ctx, pgTaskTx{tx}, id, status, message, result, rpcErr, now)
		return err
	})
	return done, err
}

// CancelTask implements Tasks.
func (s *Postgres) CancelTask(ctx context.Context, owner, id, message string, now time.Time) (t Task, err error) {
	err = s.pgTx(ctx, "cancel task", func(tx pgx.Tx) (err error) {
		t, err = txCancelTask(ctx, pgTaskTx{tx}, owner, id, message, now)
		return err
	})
	return t, err
}

// AnswerTask implements Tasks.
func (s *Postgres) AnswerTask(ctx context.Context, owner, id string, responses []byte, now time.Time) (t Task, err error) {
	err = s.pgTx(ctx, "answer task", func(tx pgx.Tx) (err error) {
		t, err = txAnswerTask(ctx, pgTaskTx{tx}, owner, id, responses, now)
		return err
	})
	return t, err
}

// ClaimTask implements Tasks.
func (s *Postgres) ClaimTask(ctx context.Context, id, holder string, now, until time.Time) (t Task, ok bool, err error) {
	err = s.pgTx(ctx, "claim task", func(tx pgx.Tx) (err error) {
		t, ok, err = txClaimTask(ctx, pgTaskTx{tx}, id, holder, now, until)
		return err
	})
	return t, ok && err == nil, err
}

// OrphanedTasks implements Tasks.
func (s *Postgres) OrphanedTasks(ctx context.Context, now time.Time, limit int) ([]Task, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE status IN ($1, $2) AND expires_at > $3 AND lease_until <= $3 ORDER BY created_at LIMIT $4`,
		TaskWorking, TaskInputRequired, now.UnixMilli(), limit)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orphaned tasks: %w", err)
	}
	return out, nil
}

// PruneTasks implements Tasks.
func (s *Postgres) PruneTasks(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tasks WHERE expires_at <= $1`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("prune tasks: %w", err)
	}
	return tag.RowsAffected(), nil
}

// pgTaskTx is a PostgreSQL transaction as a taskTx: reads lock the row
// (FOR UPDATE).
type pgTaskTx struct{ tx pgx.Tx }

func (p pgTaskTx) live(ctx context.Context, id string, owner *string, now time.Time) (Task, error) {
	return pgLiveTask(ctx, p.tx, id, owner, now, true)
}

func (p pgTaskTx) write(ctx context.Context, t Task) error { return pgWriteTask(ctx, p.tx, t) }
