package bitrefill

import "github.com/cryptopay-mcp/cryptopay-mcp/internal/money"

// Decimal is an exact amount on the Bitrefill wire: the JSON number text as
// Bitrefill sent it, encoded back byte for byte, "" when absent. It is
// [money.Number]; its value is a [money.Decimal].
type Decimal = money.Number
