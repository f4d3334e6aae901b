package bitrefill

import "slices"

// Payment methods accepted by CreateInvoice.
const (
	PaymentMethodBalance   = "balance"
	PaymentMethodLightning = "lightning"
	PaymentMethodBitcoin   = "bitcoin"
	PaymentMethodEthBase   = "eth_base"
	PaymentMethodUSDCBase  = "usdc_base"
	// PaymentMethodEthereum is not advertised any more but was accepted by
	// the old server's enum; it is still accepted for compatibility.
	PaymentMethodEthereum = "ethereum"
)

// PaymentMethods returns the advertised payment methods, in the reference
// order: balance, lightning, bitcoin, eth_base, usdc_base. It returns a new
// slice each call (there is no mutable package state).
func PaymentMethods() []string {
	return []string{
		PaymentMethodBalance,
		PaymentMethodLightning,
		PaymentMethodBitcoin,
		PaymentMethodEthBase,
		PaymentMethodUSDCBase,
	}
}

// ValidPaymentMethod reports whether m is accepted by CreateInvoice: one of
// PaymentMethods, or the legacy "ethereum".
func ValidPaymentMethod(m string) bool {
	return m == PaymentMethodEthereum || slices.Contains(PaymentMethods(), m)
}

// ProductTypes returns the product-type keys in their canonical order:
// giftcards, refills, bills, esims, crypto-utils.
func ProductTypes() []string {
	return []string{"giftcards", "refills", "bills", "esims", "crypto-utils"}
}

// Categories returns the categories of a product type (a new slice), and
// false for an unknown type.
func Categories(productType string) ([]string, bool) {
	switch productType {
	case "giftcards":
		return []string{
			"all-gift-cards", "apparel", "automobiles", "cruises", "ecommerce", "electronics",
			"entertainment", "experiences", "flights", "food", "food-delivery", "games", "gifts",
			"groceries", "health-beauty", "home", "multi-brand", "music", "other", "payment-cards",
			"pets", "pharmacy", "restaurants", "retail", "streaming", "top-products", "travel",
			"utility-bills", "voip",
		}, true
	case "refills":
		return []string{"refill", "data", "pin", "bundles", "dth"}, true
	case "bills":
		return []string{
			"all-bills", "auto-loans", "banking", "bill", "catalog-sales", "cemeteries-funerals",
			"club-membership", "commission-businesses", "credit-card", "education",
			"financial-services", "healthcare", "hoa-rent", "installment-payments", "insurance",
			"internet-cable-tv", "mortgages-home-equity", "mortgages-property-management", "phone",
			"press", "sanitation", "security-monitoring", "taxes", "water-electricity-gas",
		}, true
	case "esims":
		return []string{"esim"}, true
	case "crypto-utils":
		return []string{"bitcoin"}, true
	}
	return nil, false
}

// PackageID builds a B2B v2 package id from a product id and a package
// value, in the observed form "<product_id><&><value>" (e.g.
// "steam-usa<&>50"). The form comes from a third-party client; prefer the
// ids returned by GetProduct when available.
func PackageID(productID, value string) string {
	return productID + "<&>" + value
}
