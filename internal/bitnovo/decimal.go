package bitnovo

import "github.com/cryptopay-mcp/cryptopay-mcp/internal/money"

// Decimal is an exact amount on the Bitnovo wire: canonical decimal text,
// encoded as a JSON string, "" when absent. It is the server's one money type,
// [money.Decimal]; see that package for the grammar, limits and arithmetic.
type Decimal = money.Decimal

// ErrInvalidDecimal is wrapped by every decimal parsing error.
var ErrInvalidDecimal = money.ErrInvalid

// ParseDecimal validates s and returns its canonical form; see [money.Parse].
func ParseDecimal(s string) (Decimal, error) { return money.Parse(s) }

// MustParseDecimal is like ParseDecimal but panics on error. It is meant for
// constants in tests and tables.
func MustParseDecimal(s string) Decimal { return money.MustParse(s) }

// DecimalFromFloat converts a float64 tool input exactly, refusing more than
// maxScale fraction digits; see [money.FromFloat].
func DecimalFromFloat(f float64, maxScale int) (Decimal, error) { return money.FromFloat(f, maxScale) }
