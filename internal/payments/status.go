package payments

import (
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

// StatusInfo describes one Bitnovo payment status.
type StatusInfo struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Terminal    bool   `json:"terminal"`
}

// Statuses lists every status Bitnovo Pay reports, in lifecycle order.
var statuses = []StatusInfo{
	{"NR", "Not Ready", "Payment created, waiting for the customer to choose a cryptocurrency", false},
	{"PE", "Pending", "Waiting for the customer's transaction", false},
	{"AC", "Awaiting Completion", "Payment detected in the mempool, awaiting network confirmation", false},
	{"IA", "Insufficient Amount", "Less than the expected amount was received; an additional payment is needed", false},
	{"OC", "Out of Condition", "Payment conditions not met (for example paid late or the wrong amount)", false},
	{"CO", "Completed", "Payment completed and confirmed on the blockchain", true},
	{"CA", "Cancelled", "Payment cancelled", true},
	{"EX", "Expired", "The payment time limit passed without a valid payment", true},
	{"FA", "Failed", "The transaction failed to confirm", true},
}

// Statuses returns the table of known statuses.
func Statuses() []StatusInfo { return append([]StatusInfo(nil), statuses...) }

// LookupStatus returns the description of a status code; ok is false for
// codes this server does not know (they are passed through, not rejected).
func LookupStatus(code string) (StatusInfo, bool) {
	for _, s := range statuses {
		if s.Code == code {
			return s, true
		}
	}
	switch code {
	case "RF":
		return StatusInfo{"RF", "Refunded", "The payment was refunded", true}, true
	}
	return StatusInfo{Code: code, Name: code, Description: "Status not documented by Bitnovo Pay; passed through unchanged"}, false
}

// flags are the derived booleans of get_payment_status.
type flags struct {
	RequiresAction bool
	IsExpired      bool
	IsCompleted    bool
	IsFailed       bool
}

func deriveFlags(status, expiredTime string, now time.Time) flags {
	var f flags
	if t, err := time.Parse(time.RFC3339, expiredTime); err == nil && t.Before(now) {
		f.IsExpired = true
	}
	if status == "EX" {
		f.IsExpired = true
	}
	f.IsCompleted = status == "CO"
	f.IsFailed = status == "CA" || status == "EX" || status == "FA"
	f.RequiresAction = (status == "PE" || status == "IA") && !f.IsExpired
	return f
}

// remaining computes max(0, total - paid...) exactly, with the largest scale
// of its operands; ok is false when total or a paid amount is not a decimal.
func remaining(total string, paid ...string) (string, bool) {
	t, err := money.Parse(total)
	if err != nil {
		return "", false
	}
	for _, p := range paid {
		if p == "" {
			continue
		}
		d, err := money.Parse(p)
		if err != nil {
			return "", false
		}
		if t = t.Sub(d); t == "" {
			return "", false
		}
	}
	if t.Sign() < 0 {
		t = money.Decimal("0").Round(t.Scale(), money.HalfUp)
	}
	return t.String(), true
}

// decimalScale counts the digits after the decimal point.
func decimalScale(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return len(s) - i - 1
		}
	}
	return 0
}
