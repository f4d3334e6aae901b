// Package doctor checks a cryptopay-mcp setup the way the server will use
// it — configuration, data dir, store, the provider APIs with these
// credentials, the clock, the webhook receiver and its public URL — and
// reports each check with a one-line fix. `cryptopay-mcp doctor` wires it.
package doctor

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Status is the outcome of one check.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip" // does not apply to this configuration
)

// Result is one line of the report.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`        // what was found
	Fix    string `json:"fix,omitempty"` // one line, when Status is Fail
}

// Check is one named check. Run returns the outcome; the runner fills in
// the name and bounds the context with Timeout.
type Check struct {
	Name string
	// Waiting says what the check waits for ("Bitnovo Pay at https://…"),
	// for the progress line printed when it takes a while; "" uses Name.
	Waiting string
	Timeout time.Duration // 0: DefaultTimeout; at most MaxTimeout
	Run     func(ctx context.Context) Result
}

const (
	// DefaultTimeout bounds one check.
	DefaultTimeout = 10 * time.Second
	// MaxTimeout is the longest any check may take: one that has not
	// returned by then is skipped with the reason (issue 21: doctor must
	// never sit silent).
	MaxTimeout = 10 * time.Second
	// quietFor is how long a check runs before a progress line says what
	// it is waiting for.
	quietFor = 2 * time.Second
	// abandonAfter is the grace a check gets past its deadline to return
	// what its cancelled context made of it, before it is skipped.
	abandonAfter = time.Second
)

// Options are how Run reports while it works.
type Options struct {
	// Progress receives a line when a check is still running after a
	// couple of seconds (what it is waiting for, and for how long at
	// most); nil: no progress lines.
	Progress io.Writer
	// OnResult, if set, is called with each result as soon as it is known
	// (the text report prints line by line).
	OnResult func(Result)
}

// Report is the outcome of every check, in order.
type Report struct {
	OK     bool     `json:"ok"`
	Checks []Result `json:"checks"`
}

// Run runs the checks one after the other (later checks may depend on
// what earlier ones proved, and the output reads top to bottom).
func Run(ctx context.Context, checks []Check, o Options) Report {
	r := Report{OK: true, Checks: make([]Result, 0, len(checks))}
	for _, c := range checks {
		res := runOne(ctx, c, o.Progress)
		if res.Status == Fail {
			r.OK = false
		}
		r.Checks = append(r.Checks, res)
		if o.OnResult != nil {
			o.OnResult(res)
		}
	}
	return r
}

// runOne runs c with its deadline. A check still running a couple of
// seconds in gets a progress line; one that ignores its cancelled context
// is abandoned shortly after the deadline and reported as skipped.
func runOne(ctx context.Context, c Check, progress io.Writer) Result {
	timeout := min(cmp.Or(c.Timeout, DefaultTimeout), MaxTimeout)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan Result, 1) // buffered: an abandoned check does not block
	go func() {
		var res Result
		defer func() {
			if p := recover(); p != nil {
				res = Result{Status: Fail, Detail: fmt.Sprintf("the check crashed: %v", p), Fix: "report this as a bug"}
			}
			done <- res
		}()
		res = c.Run(cctx)
	}()
	waiting := cmp.Or(c.Waiting, c.Name)
	quiet := time.NewTimer(quietFor)
	defer quiet.Stop()
	var res Result
wait:
	for {
		select {
		case res = <-done:
			break wait
		case <-quiet.C:
			if progress != nil {
				fmt.Fprintf(progress, "doctor: waiting for %s (at most %s)…\n", waiting, timeout.Round(100*time.Millisecond))
			}
		case <-cctx.Done():
			grace := time.NewTimer(abandonAfter)
			select {
			case res = <-done:
			case <-grace.C:
				res = Skipped("no answer from %s within %s; skipped (%v)", waiting, timeout.Round(100*time.Millisecond), context.Cause(cctx))
			}
			grace.Stop()
			break wait
		}
	}
	res.Name = c.Name
	if res.Status == Fail && res.Fix == "" {
		res.Fix = "see README.md"
	}
	return res
}

// Passed, Failed and Skipped build results.
func Passed(format string, args ...any) Result {
	return Result{Status: Pass, Detail: fmt.Sprintf(format, args...)}
}

// Failed is a failed check with what was found and its fix.
func Failed(fix, format string, args ...any) Result {
	return Result{Status: Fail, Detail: fmt.Sprintf(format, args...), Fix: fix}
}

// Skipped is a check that does not apply.
func Skipped(format string, args ...any) Result {
	return Result{Status: Skip, Detail: fmt.Sprintf(format, args...)}
}

// WriteText writes the report for people: one line per check, ✅ or ❌
// (➖ when skipped), the fix under each failure, then a summary line.
func (r Report) WriteText(w io.Writer) error {
	for _, c := range r.Checks {
		if err := c.WriteText(w); err != nil {
			return err
		}
	}
	return r.WriteSummary(w)
}

// WriteText writes one result as WriteText does: its line, and the fix
// under a failure.
func (c Result) WriteText(w io.Writer) error {
	mark := "✅"
	switch c.Status {
	case Fail:
		mark = "❌"
	case Skip:
		mark = "➖"
	}
	if _, err := fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Detail); err != nil {
		return err
	}
	if c.Status == Fail {
		if _, err := fmt.Fprintf(w, "   fix: %s\n", c.Fix); err != nil {
			return err
		}
	}
	return nil
}

// WriteSummary writes WriteText's last line.
func (r Report) WriteSummary(w io.Writer) error {
	var failed, passed int
	for _, c := range r.Checks {
		switch c.Status {
		case Fail:
			failed++
		case Pass:
			passed++
		}
	}
	var err error
	if failed == 0 {
		_, err = fmt.Fprintf(w, "doctor: everything checked is fine (%d checks, %d skipped)\n", passed, len(r.Checks)-passed)
	} else {
		_, err = fmt.Fprintf(w, "doctor: %d of %d checks need attention\n", failed, len(r.Checks))
	}
	return err
}

// WriteJSON writes the report for machines: {"ok":…,"checks":[…]}.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
