// Package doctor checks a cryptopay-mcp setup the way the server will use
// it — configuration, data dir, store, the provider APIs with these
// credentials, the clock, the webhook receiver and its public URL — and
// reports each check with a one-line fix. `cryptopay-mcp doctor` wires it.
package doctor

import (
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
	Name    string
	Timeout time.Duration // 0: DefaultTimeout
	Run     func(ctx context.Context) Result
}

// DefaultTimeout bounds one check.
const DefaultTimeout = 30 * time.Second

// Report is the outcome of every check, in order.
type Report struct {
	OK     bool     `json:"ok"`
	Checks []Result `json:"checks"`
}

// Run runs the checks one after the other (later checks may depend on
// what earlier ones proved, and the output reads top to bottom).
func Run(ctx context.Context, checks []Check) Report {
	r := Report{OK: true, Checks: make([]Result, 0, len(checks))}
	for _, c := range checks {
		res := runOne(ctx, c)
		if res.Status == Fail {
			r.OK = false
		}
		r.Checks = append(r.Checks, res)
	}
	return r
}

func runOne(ctx context.Context, c Check) (res Result) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			res = Result{Status: Fail, Detail: fmt.Sprintf("the check crashed: %v", p), Fix: "report this as a bug"}
		}
		res.Name = c.Name
		if res.Status == Fail && res.Fix == "" {
			res.Fix = "see README.md"
		}
	}()
	return c.Run(cctx)
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
	var failed, passed int
	for _, c := range r.Checks {
		mark := "✅"
		switch c.Status {
		case Fail:
			mark = "❌"
			failed++
		case Skip:
			mark = "➖"
		default:
			passed++
		}
		if _, err := fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Detail); err != nil {
			return err
		}
		if c.Status == Fail {
			if _, err := fmt.Fprintf(w, "   fix: %s\n", c.Fix); err != nil {
				return err
			}
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
