// Package loopback answers one question the server asks in many places:
// does this host or address name this machine? Plain http, the sandbox's
// admin API, /stats and the HTTP transport's DNS-rebinding check all depend
// on the same answer.
package loopback

import (
	"net"
	"strings"
)

// Host reports whether host (no port) is "localhost", in any case, or a
// loopback IP literal.
func Host(host string) bool {
	return strings.EqualFold(host, "localhost") || IP(host)
}

// IP reports whether s is a loopback IP literal.
func IP(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.IsLoopback()
}

// Addr reports whether the IP of addr ("host:port", such as an
// http.Request's RemoteAddr, or a bare IP) is a loopback address.
func Addr(addr string) bool {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	return IP(addr)
}
