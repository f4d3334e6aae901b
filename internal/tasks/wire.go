package tasks

import (
	"encoding/json"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// Result types of the extension's polymorphic results.
const (
	ResultTypeTask     = "task"
	ResultTypeComplete = "complete"
)

// Task is the extension's Task: what a CreateTaskResult carries.
type Task struct {
	TaskID         string `json:"taskId"`
	Status         string `json:"status"`
	StatusMessage  string `json:"statusMessage,omitempty"`
	CreatedAt      string `json:"createdAt"`
	LastUpdatedAt  string `json:"lastUpdatedAt"`
	TTLMs          int64  `json:"ttlMs"`
	PollIntervalMs int64  `json:"pollIntervalMs,omitempty"`
}

// DetailedTask is a Task with the payload of its status: inputRequests
// when input_required, result when completed, error when failed.
type DetailedTask struct {
	Task
	InputRequests json.RawMessage `json:"inputRequests,omitempty"`
	Result        json.RawMessage `json:"result,omitempty"`
	Error         json.RawMessage `json:"error,omitempty"`
}

// CreateTaskResult answers a tools/call with a task handle.
type CreateTaskResult struct {
	mcp.ResultBase
	ResultType string `json:"resultType"`
	Task
}

// CreatedTask returns the task's id; it marks the result of a tools/call
// answered with a task (for metrics).
func (r *CreateTaskResult) CreatedTask() string { return r.TaskID }

// GetTaskResult answers tasks/get.
type GetTaskResult struct {
	mcp.ResultBase
	ResultType string `json:"resultType"`
	DetailedTask
}

// AckResult is the empty acknowledgement of tasks/update and tasks/cancel.
type AckResult struct {
	mcp.ResultBase
	ResultType string `json:"resultType"`
}

func wireTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Wire is t as the extension's Task.
func Wire(t store.Task) Task {
	return Task{TaskID: t.ID, Status: t.Status, StatusMessage: t.StatusMessage, CreatedAt: wireTime(t.CreatedAt),
		LastUpdatedAt: wireTime(t.UpdatedAt), TTLMs: t.ExpiresAt.Sub(t.CreatedAt).Milliseconds(),
		PollIntervalMs: t.PollInterval.Milliseconds()}
}

// Detailed is t as the extension's DetailedTask.
func Detailed(t store.Task) DetailedTask {
	d := DetailedTask{Task: Wire(t)}
	switch t.Status {
	case store.TaskInputRequired:
		d.InputRequests = pending(t.InputRequests, t.InputResponses)
	case store.TaskCompleted:
		d.Result = t.Result
	case store.TaskFailed:
		d.Error = t.Error
	}
	return d
}

// pending is the input requests not answered yet, as a JSON object.
func pending(requests, answers []byte) json.RawMessage {
	var req, ans map[string]json.RawMessage
	if len(requests) == 0 || json.Unmarshal(requests, &req) != nil {
		return json.RawMessage(`{}`)
	}
	if len(answers) > 0 && json.Unmarshal(answers, &ans) == nil {
		for k := range ans {
			delete(req, k)
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}
