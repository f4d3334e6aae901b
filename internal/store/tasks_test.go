package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func newTask(id, owner string, now time.Time) Task {
	return Task{ID: id, Owner: owner, Tool: "wait_for_payment", Status: TaskWorking, Params: []byte(`{"identifier":"x"}`),
		PollInterval: 5 * time.Second, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func TestTasksContract(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_800_000_000_123)
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			if _, err := s.GetTask(ctx, "alice", "nope", now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing task: %v", err)
			}
			in := newTask("t1", "alice", now)
			if err := s.CreateTask(ctx, in, 2, now); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetTask(ctx, "alice", "t1", now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != TaskWorking || string(got.Params) != `{"identifier":"x"}` || !got.CreatedAt.Equal(now) ||
				got.PollInterval != 5*time.Second || !got.ExpiresAt.Equal(now.Add(time.Hour)) || got.Result != nil {
				t.Fatalf("stored task = %+v", got)
			}
			// Another caller does not see it, cannot cancel or answer it.
			if _, err := s.GetTask(ctx, "mallory", "t1", now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("other owner get: %v", err)
			}
			if _, err := s.CancelTask(ctx, "mallory", "t1", "", now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("other owner cancel: %v", err)
			}
			if _, err := s.AnswerTask(ctx, "mallory", "t1", []byte(`{}`), now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("other owner answer: %v", err)
			}
			// The cap counts unfinished tasks of one owner.
			if err := s.CreateTask(ctx, newTask("t2", "alice", now), 2, now); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateTask(ctx, newTask("t3", "alice", now), 2, now); !errors.Is(err, ErrTaskLimit) {
				t.Fatalf("third task: %v, want ErrTaskLimit", err)
			}
			if err := s.CreateTask(ctx, newTask("b1", "bob", now), 2, now); err != nil {
				t.Fatalf("bob's first task: %v", err)
			}

			// Leases: one holder at a time until the lease runs out.
			if _, ok, err := s.ClaimTask(ctx, "t1", "p1", now, now.Add(time.Minute)); err != nil || !ok {
				t.Fatalf("claim: ok=%v err=%v", ok, err)
			}
			if _, ok, _ := s.ClaimTask(ctx, "t1", "p2", now.Add(30*time.Second), now.Add(2*time.Minute)); ok {
				t.Fatal("a second holder claimed a leased task")
			}
			orph, err := s.OrphanedTasks(ctx, now.Add(30*time.Second), 10)
			if err != nil {
				t.Fatal(err)
			}
			if ids := taskIDs(orph); ids != "[b1 t2]" {
				t.Fatalf("orphaned while t1 is leased = %s", ids)
			}
			if ids := taskIDs(must(s.OrphanedTasks(ctx, now.Add(2*time.Minute), 10))); ids != "[b1 t1 t2]" {
				t.Fatalf("orphaned after the lease ran out = %s", ids)
			}
			if _, ok, _ := s.ClaimTask(ctx, "t1", "p2", now.Add(2*time.Minute), now.Add(3*time.Minute)); !ok {
				t.Fatal("an expired lease was not taken over")
			}

			// Only the holder updates; input requests and answers.
			u := TaskUpdate{Status: TaskInputRequired, StatusMessage: "need a name", InputRequests: []byte(`{"q1":{"method":"elicitation/create"}}`)}
			if got, _ := s.UpdateTask(ctx, "t1", "p1", u, now); got.Status != TaskWorking {
				t.Fatalf("a former holder updated the task: %+v", got)
			}
			if got, err := s.UpdateTask(ctx, "t1", "p2", u, now.Add(time.Second)); err != nil || got.Status != TaskInputRequired {
				t.Fatalf("holder update: %+v, %v", got, err)
			}
			got, err = s.AnswerTask(ctx, "alice", "t1", []byte(`{"q1":{"action":"accept"},"bogus":{"x":1}}`), now)
			if err != nil {
				t.Fatal(err)
			}
			var answers map[string]json.RawMessage
			if err := json.Unmarshal(got.InputResponses, &answers); err != nil || len(answers) != 1 || answers["q1"] == nil {
				t.Fatalf("answers = %s (%v)", got.InputResponses, err)
			}
			got, _ = s.AnswerTask(ctx, "alice", "t1", []byte(`{"q1":{"action":"decline"}}`), now)
			if string(got.InputResponses) != `{"q1":{"action":"accept"}}` {
				t.Fatalf("an answered key was overwritten: %s", got.InputResponses)
			}

			// Finish once; later finishes and cancels change nothing.
			done, err := s.FinishTask(ctx, "t1", TaskCompleted, "done", []byte(`{"content":[]}`), nil, now.Add(3*time.Second))
			if err != nil || !done {
				t.Fatalf("finish: %v %v", done, err)
			}
			if done, _ := s.FinishTask(ctx, "t1", TaskFailed, "", nil, []byte(`{}`), now); done {
				t.Fatal("a terminal task was finished again")
			}
			got, err = s.CancelTask(ctx, "alice", "t1", "stop", now)
			if err != nil || got.Status != TaskCompleted || string(got.Result) != `{"content":[]}` || got.InputRequests != nil {
				t.Fatalf("cancel of a completed task: %+v %v", got, err)
			}
			got, err = s.CancelTask(ctx, "alice", "t2", "stopped by the client", now.Add(time.Second))
			if err != nil || got.Status != TaskCancelled || got.StatusMessage != "stopped by the client" {
				t.Fatalf("cancel: %+v %v", got, err)
			}
			if done, _ := s.FinishTask(ctx, "t2", TaskCompleted, "", []byte(`{}`), nil, now); done {
				t.Fatal("a cancelled task was completed")
			}
			// Both of alice's tasks are finished: she may start new ones.
			if err := s.CreateTask(ctx, newTask("t4", "alice", now), 2, now); err != nil {
				t.Fatal(err)
			}

			// Expiry: gone for every method, then pruned.
			later := now.Add(time.Hour)
			if _, err := s.GetTask(ctx, "alice", "t4", later); !errors.Is(err, ErrNotFound) {
				t.Fatalf("expired task: %v", err)
			}
			if n, err := s.PruneTasks(ctx, later); err != nil || n != 4 {
				t.Fatalf("prune = %d, %v; want 4", n, err)
			}
		})
	}
}

func taskIDs(ts []Task) string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	if len(ids) > 1 { // created at the same millisecond: order by id for the test
		for i := range ids {
			for j := i + 1; j < len(ids); j++ {
				if ids[j] < ids[i] {
					ids[i], ids[j] = ids[j], ids[i]
				}
			}
		}
	}
	return fmt.Sprint(ids)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestTaskCapConcurrent: the per-owner cap holds when creates race, also
// between two handles on one SQLite file (two processes).
func TestTaskCapConcurrent(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	path := filepath.Join(t.TempDir(), "state.db")
	a, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cases := map[string][]Tasks{"memory": {NewMemory()}, "sqlite": {a, b}}
	if url := postgresURLOrSkip(t); url != "" {
		p1, p2 := openTestPostgres(t, url), openTestPostgres(t, url)
		cases["postgres"] = []Tasks{p1, p2}
	}
	for name, stores := range cases {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			created := 0
			for i := range 12 {
				wg.Go(func() {
					s := stores[i%len(stores)]
					err := s.CreateTask(ctx, newTask(fmt.Sprintf("c%d", i), "alice", now), 3, now)
					switch {
					case err == nil:
						mu.Lock()
						created++
						mu.Unlock()
					case !errors.Is(err, ErrTaskLimit):
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if created != 3 {
				t.Fatalf("created %d tasks under a cap of 3", created)
			}
		})
	}
}

// postgresURLOrSkip returns a fresh schema's URL, or "" without a test
// database.
func postgresURLOrSkip(t *testing.T) string {
	if !hasTestDatabase() {
		return ""
	}
	return postgresTestURL(t)
}

func hasTestDatabase() bool { return os.Getenv(testDatabaseEnv) != "" }
