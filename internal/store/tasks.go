package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Task statuses (io.modelcontextprotocol/tasks). Completed, failed and
// cancelled are terminal: a task in one of them never changes again.
const (
	TaskWorking       = "working"
	TaskInputRequired = "input_required"
	TaskCompleted     = "completed"
	TaskFailed        = "failed"
	TaskCancelled     = "cancelled"
)

// TaskTerminal reports whether status is final.
func TaskTerminal(status string) bool {
	return status == TaskCompleted || status == TaskFailed || status == TaskCancelled
}

// ErrTaskLimit: the owner already has the maximum number of unfinished
// tasks; nothing was created.
var ErrTaskLimit = errors.New("store: too many unfinished tasks")

// Task is one task as the store keeps it. The JSON fields are opaque to
// the store except InputRequests and InputResponses, which are JSON
// objects keyed by input request id.
type Task struct {
	ID             string
	Owner          string // the caller that created it; nobody else sees it
	Tool           string
	Status         string
	StatusMessage  string
	Params         []byte // what the runner needs to do (or resume) the work
	Result         []byte // the tool result, when completed
	Error          []byte // the JSON-RPC error, when failed
	InputRequests  []byte // outstanding requests to the client, when input_required
	InputResponses []byte // the client's answers received so far
	PollInterval   time.Duration
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ExpiresAt      time.Time // the task is gone (not found) from then on
	LeaseHolder    string    // the process running it
	LeaseUntil     time.Time // another process may take it over after this
}

// TaskUpdate is a status change of an unfinished task. A nil field is left
// as it is; InputRequests is replaced (an empty object clears it).
type TaskUpdate struct {
	Status        string
	StatusMessage string
	Params        []byte
	InputRequests []byte
}

// Tasks persists tasks. Every method is safe for concurrent use, also
// across processes sharing the database; times are kept to the
// millisecond. A task whose ExpiresAt has passed is treated as missing.
type Tasks interface {
	// CreateTask stores t unless its owner already has maxActive (> 0)
	// unfinished, unexpired tasks, in which case it returns ErrTaskLimit.
	// It returns once the task is durably committed.
	CreateTask(ctx context.Context, t Task, maxActive int, now time.Time) error
	// GetTask returns the owner's task, or ErrNotFound (also for a task of
	// another owner, and for an expired one).
	GetTask(ctx context.Context, owner, id string, now time.Time) (Task, error)
	// UpdateTask applies u to an unfinished task held by holder and
	// returns the task as stored; ErrNotFound when it does not exist, and
	// the unchanged task when it is already terminal (check Status).
	UpdateTask(ctx context.Context, id, holder string, u TaskUpdate, now time.Time) (Task, error)
	// FinishTask moves an unfinished task to a terminal status with its
	// result or error. done is false (and nothing changes) when the task
	// was already terminal, e.g. cancelled meanwhile.
	FinishTask(ctx context.Context, id, status, message string, result, rpcErr []byte, now time.Time) (done bool, err error)
	// CancelTask moves the owner's unfinished task to cancelled; a
	// terminal one is left as it is. ErrNotFound as GetTask.
	CancelTask(ctx context.Context, owner, id, message string, now time.Time) (Task, error)
	// AnswerTask records the client's responses (a JSON object) to the
	// owner's task: only keys of outstanding input requests not answered
	// yet are kept, the rest is ignored. ErrNotFound as GetTask.
	AnswerTask(ctx context.Context, owner, id string, responses []byte, now time.Time) (Task, error)
	// ClaimTask makes holder the runner of an unfinished task until
	// until, if nobody else holds an unexpired lease on it. ok is false
	// when another holder has it or the task is terminal or gone.
	ClaimTask(ctx context.Context, id, holder string, now, until time.Time) (t Task, ok bool, err error)
	// OrphanedTasks returns unfinished, unexpired tasks whose lease ran
	// out before now (their runner stopped), oldest first, at most limit.
	OrphanedTasks(ctx context.Context, now time.Time, limit int) ([]Task, error)
	// PruneTasks deletes tasks that expired before now.
	PruneTasks(ctx context.Context, now time.Time) (int64, error)
}

// mergeResponses keeps the entries of responses that answer an
// outstanding request not answered before, and returns the new answers
// object (nil when nothing changed).
func mergeResponses(requests, answered, responses []byte) ([]byte, error) {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(responses, &in); err != nil {
		return nil, fmt.Errorf("input responses: %w", err)
	}
	var req, have map[string]json.RawMessage
	if len(requests) > 0 {
		if err := json.Unmarshal(requests, &req); err != nil {
			return nil, fmt.Errorf("stored input requests: %w", err)
		}
	}
	if len(answered) > 0 {
		if err := json.Unmarshal(answered, &have); err != nil {
			return nil, fmt.Errorf("stored input responses: %w", err)
		}
	}
	if have == nil {
		have = map[string]json.RawMessage{}
	}
	changed := false
	for k, v := range in {
		if _, outstanding := req[k]; !outstanding {
			continue
		}
		if _, done := have[k]; done {
			continue
		}
		have[k] = v
		changed = true
	}
	if !changed {
		return nil, nil
	}
	return json.Marshal(have)
}
