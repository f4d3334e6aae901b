package webhook

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// sourceOf is the rate-limit identity of a request: the peer's address, or,
// when the peer is a trusted proxy (Options.TrustedProxies, none by
// default), the address that proxy says it forwards for: the rightmost
// X-Forwarded-For entry that is not itself a trusted proxy. Everything left
// of that entry was written by the client and is ignored, so rotating it
// gets no fresh bucket. An entry that is not an IP address (the proxy
// wrote none) leaves the proxy itself as the source. IPv6 sources count by
// /64, the block one host usually holds.
func sourceOf(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddr(hostOnly(r.RemoteAddr))
	if err != nil {
		return hostOnly(r.RemoteAddr)
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return sourceKey(peer)
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	src := peer
	for _, h := range slices.Backward(hops) {
		ip, ok := parseHop(strings.TrimSpace(h))
		if !ok {
			break
		}
		src = ip
		if !isTrusted(ip, trusted) {
			break
		}
	}
	return sourceKey(src)
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// parseHop reads one X-Forwarded-For entry: an address, optionally with a
// port ("192.0.2.1:443", "[2001:db8::1]:443").
func parseHop(s string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func sourceKey(ip netip.Addr) string {
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
