package mcphttp

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limits reported to Options.Observe and to Listener's observer, one call
// per refusal; they are the limit label of cryptopay_limit_rejections_total.
const (
	// LimitConnsTotal: a connection was refused because MaxConns are open.
	LimitConnsTotal = "http_connections_total"
	// LimitConnsPerSource: a connection was refused because its source
	// address already holds MaxConnsPerSource.
	LimitConnsPerSource = "http_connections_per_source"
	// LimitBodyTimeout: a request body did not arrive within the body
	// read timeout; its connection is closed.
	LimitBodyTimeout = "http_body_read_timeout"
	// LimitSessions: a new session was refused because MaxSessions are open.
	LimitSessions = "http_sessions_total"
)

// ConnLimits bound the connections a Listener hands to the HTTP server.
type ConnLimits struct {
	// Max is the number of connections open at once, all sources
	// together; 0: no limit. Keep it well under the open-file limit
	// (ulimit -n): each connection holds a descriptor.
	Max int
	// MaxPerSource is the number of connections one source holds at once:
	// one IPv4 address, or one IPv6 /64 (a single host usually owns a
	// whole /64); 0: no limit.
	MaxPerSource int
}

// Listener is a net.Listener that caps open connections in total and per
// source, and lets a shutdown cut the reads of connections that are not
// serving a request (see CutReads). A connection over a cap is accepted,
// answered "503 Service Unavailable" and closed at once, so it costs a
// descriptor for microseconds, not for as long as its client likes.
//
// Serve it with http.Server.ConnContext set to the Listener's ConnContext,
// so that the Handler can tell which connections are serving a request.
type Listener struct {
	net.Listener
	lim     ConnLimits
	observe func(limit string)

	mu     sync.Mutex
	open   map[*limitedConn]struct{}
	per    map[netip.Prefix]int
	cut    bool
	refuse []byte
}

// NewListener wraps ln. observe, when not nil, is called with
// LimitConnsTotal or LimitConnsPerSource for every refused connection.
func NewListener(ln net.Listener, lim ConnLimits, observe func(limit string)) *Listener {
	if observe == nil {
		observe = func(string) {}
	}
	return &Listener{Listener: ln, lim: lim, observe: observe,
		open: map[*limitedConn]struct{}{}, per: map[netip.Prefix]int{},
		refuse: []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Retry-After: 5\r\nConnection: close\r\nContent-Length: 30\r\n\r\ntoo many connections, retry.\r\n")}
}

// Accept returns the next connection within the caps; connections over a
// cap are refused and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(c.RemoteAddr())
		l.mu.Lock()
		var limit string
		switch {
		case l.lim.Max > 0 && len(l.open) >= l.lim.Max:
			limit = LimitConnsTotal
		case l.lim.MaxPerSource > 0 && l.per[src] >= l.lim.MaxPerSource:
			limit = LimitConnsPerSource
		default:
			lc := &limitedConn{Conn: c, l: l, src: src, cut: l.cut}
			l.open[lc] = struct{}{}
			l.per[src]++
			l.mu.Unlock()
			return lc, nil
		}
		l.mu.Unlock()
		l.observe(limit)
		// A fresh socket's send buffer is empty: this write does not
		// block; the deadline is a backstop.
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write(l.refuse)
		_ = c.Close()
	}
}

// Open is the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// CutReads is for shutdown: from now on, every connection that is not
// serving a request whose body has been read fails its reads at once. A
// client sending its headers or body slowly, or idle between requests,
// is disconnected instead of holding http.Server.Shutdown until its
// timeouts expire; requests being served (tool calls, SSE streams) and
// their responses are not touched: only reading stops.
func (l *Listener) CutReads() {
	l.mu.Lock()
	l.cut = true
	conns := make([]*limitedConn, 0, len(l.open))
	for c := range l.open {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.setCut()
	}
}

// ConnContext is for http.Server.ConnContext: it lets the Handler find the
// connection a request arrived on.
func (l *Listener) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok && lc.l == l {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

func (l *Listener) release(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.open[c]; !ok {
		return
	}
	delete(l.open, c)
	if l.per[c.src]--; l.per[c.src] <= 0 {
		delete(l.per, c.src)
	}
}

// sourceOf is the per-source key: the IPv4 address, or the IPv6 /64.
func sourceOf(a net.Addr) netip.Prefix {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{} // not an IP address (a test pipe): one source
	}
	return p
}

type connKey struct{}

// limitedConn is a connection counted by its Listener.
type limitedConn struct {
	net.Conn
	l    *Listener
	src  netip.Prefix
	once sync.Once

	mu      sync.Mutex
	serving int  // requests in their handler with their body read
	cut     bool // the server is shutting down (CutReads)
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

// CloseWrite half-closes a TCP connection: net/http does it before
// closing a connection whose client may still be sending, so that the
// client reads the response instead of a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// SetReadDeadline lets net/http and the Handler set read deadlines, except
// that after CutReads a connection not serving a request keeps failing
// its reads (net/http would otherwise lift the cut with its own deadline
// when it starts reading the next request's header or body).
func (c *limitedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut && c.serving == 0 {
		t = time.Unix(1, 0)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *limitedConn) setCut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	if c.serving == 0 {
		_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// serve marks the start (+1) or end (-1) of a request being served with
// its body read.
func (c *limitedConn) serve(delta int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serving += delta
	if c.cut && c.serving == 0 {
		_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	}
}

func connFrom(ctx context.Context) *limitedConn {
	c, _ := ctx.Value(connKey{}).(*limitedConn)
	return c
}

// isCut reports whether a shutdown has cut the connection's reads.
func (c *limitedConn) isCut() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cut
}
