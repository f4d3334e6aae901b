package fakebitnovo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// A Server opened with a state file keeps its orders across restarts. The
// file is a journal: one JSON line per order change (the whole order after
// the change), appended under the server's lock so lines follow the order
// of changes; the last line of an order wins. Open compacts it when most
// lines are stale. Expiry is absolute (expired_at), so an order that
// expired while the server was down reads EX on the first look after.

// maxStateLine bounds one journal line when reading (an order is ~600 B).
const maxStateLine = 1 << 20

// storedOrder is an order as the journal keeps it.
type storedOrder struct {
	ID            string         `json:"id"`
	ShortID       string         `json:"short_id"`
	Reference     string         `json:"reference,omitempty"`
	Notes         string         `json:"notes,omitempty"`
	Language      string         `json:"language,omitempty"`
	Fiat          string         `json:"fiat"`
	FiatAmount    string         `json:"fiat_amount"`
	Currency      string         `json:"currency,omitempty"` // "" until chosen
	CryptoAmount  string         `json:"crypto_amount,omitempty"`
	Address       string         `json:"address,omitempty"`
	TagMemo       string         `json:"tag_memo,omitempty"`
	URI           string         `json:"uri,omitempty"`
	RequestedMemo string         `json:"requested_memo,omitempty"`
	WebURL        string         `json:"web_url"` // as created; served at Options.PublicURL when set
	URLOK         string         `json:"url_ok,omitempty"`
	URLKO         string         `json:"url_ko,omitempty"`
	URLStandby    string         `json:"url_standby,omitempty"`
	Status        string         `json:"status"`
	CreatedAt     time.Time      `json:"created_at"`
	EditedAt      time.Time      `json:"edited_at"`
	ExpiresAt     time.Time      `json:"expires_at"`
	DeviceID      string         `json:"device_id"`
	Txs           []Transaction  `json:"txs,omitempty"`
	History       []StatusChange `json:"history"`
}

func (o *order) stored() storedOrder {
	so := storedOrder{
		ID: o.id, ShortID: o.shortID, Reference: o.reference, Notes: o.notes, Language: o.language,
		Fiat: o.fiat, FiatAmount: o.fiatAmount.String(), CryptoAmount: o.cryptoAmount,
		Address: o.address, TagMemo: o.tagMemo, URI: o.uri, RequestedMemo: o.requestedMemo, WebURL: o.webURL,
		URLOK: o.urlOK, URLKO: o.urlKO, URLStandby: o.urlStandby, Status: o.status,
		CreatedAt: o.createdAt, EditedAt: o.editedAt, ExpiresAt: o.expiresAt, DeviceID: o.deviceID,
		Txs: o.txs, History: o.history,
	}
	if o.entry != nil {
		so.Currency = o.entry.Symbol
	}
	return so
}

// restore rebuilds an order from the journal; base, if set, is the origin
// of web_url (else the stored web_url stands).
func (s *Server) restore(so storedOrder, base string) (*order, error) {
	if !isUUID(so.ID) || !validShortID(so.ShortID) || !knownStatus(so.Status) {
		return nil, fmt.Errorf("order %q: bad identifier, short id or status", so.ID)
	}
	amt, err := parseAmount(so.FiatAmount)
	if err != nil {
		return nil, fmt.Errorf("order %s: fiat amount: %w", so.ID, err)
	}
	o := &order{
		id: so.ID, shortID: so.ShortID, reference: so.Reference, notes: so.Notes, language: so.Language,
		fiat: so.Fiat, fiatAmount: amt, cryptoAmount: so.CryptoAmount,
		address: so.Address, tagMemo: so.TagMemo, uri: so.URI, requestedMemo: so.RequestedMemo,
		webURL: so.WebURL,
		urlOK:  so.URLOK, urlKO: so.URLKO, urlStandby: so.URLStandby, status: so.Status,
		createdAt: so.CreatedAt, editedAt: so.EditedAt, expiresAt: so.ExpiresAt, deviceID: so.DeviceID,
		txs: so.Txs, history: so.History,
	}
	if base != "" {
		o.webURL = base + "/" + so.ShortID + "/"
	}
	if so.Currency != "" {
		e, ok := s.bySymbol[so.Currency]
		if !ok {
			return nil, fmt.Errorf("order %s: currency %q: %w", so.ID, so.Currency, ErrUnknownCurrency)
		}
		o.entry = e
	}
	return o, nil
}

// journal appends order snapshots to the state file, and follows what
// other processes append to it (two MCP clients may run this server on one
// data dir): before every lookup the server applies lines it has not read
// yet, so an order created or paid through the other process is found here
// too. Last line wins.
type journal struct {
	f       *os.File
	path    string
	off     int64 // bytes of the file applied to memory
	lines   int   // in the file: it is compacted when most are stale
	skipped int   // unreadable lines skipped since Open
	err     error // the first write error; later writes are skipped
}

// stale reports whether a journal of lines lines for orders orders is
// mostly superseded lines, worth rewriting: at Open with a little slack,
// while running (under the server's lock) with more.
func stale(lines, orders int, running bool) bool {
	if running {
		return lines > 2*orders+1024
	}
	return lines > 2*orders+64
}

// Open returns a Server like New that keeps its orders in stateFile,
// loading the orders already there. Orders are served at o.PublicURL (or
// the request's host) whatever origin they were created at, so a restart on
// another port still finds them. Unreadable lines (a crash mid-write) are
// skipped and counted (SkippedStateLines). Call Close to release the file.
func Open(o Options, stateFile string) (*Server, error) {
	s := New(o)
	fail := func(err error) (*Server, error) {
		_ = s.Close()
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(stateFile), 0o700); err != nil {
		return fail(fmt.Errorf("sandbox state: %w", err))
	}
	b, err := os.ReadFile(stateFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(fmt.Errorf("sandbox state: %w", err))
	}
	consumed, lines, skipped := s.apply(b)
	torn := consumed < int64(len(b))
	if torn || skipped > 0 || stale(lines, len(s.orders), false) {
		if err := s.compact(stateFile); err != nil {
			return fail(err)
		}
		lines = len(s.orders)
	}
	f, err := os.OpenFile(stateFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fail(fmt.Errorf("sandbox state: %w", err))
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fail(fmt.Errorf("sandbox state: %w", err))
	}
	s.journal = &journal{f: f, path: stateFile, off: fi.Size(), lines: lines, skipped: skipped + boolInt(torn)}
	return s, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// apply puts the orders of the complete lines of b into s and returns how
// many bytes it consumed (up to the last newline), how many lines it read
// and how many of them it could not use. Called with s.mu held, or before
// s is shared.
func (s *Server) apply(b []byte) (consumed int64, lines, skipped int) {
	end := bytes.LastIndexByte(b, '\n') + 1
	for line := range bytes.SplitSeq(b[:end], []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		lines++
		var so storedOrder
		if len(line) > maxStateLine || json.Unmarshal(line, &so) != nil {
			skipped++
			continue
		}
		o, err := s.restore(so, s.opts.PublicURL)
		if err != nil {
			skipped++
			continue
		}
		s.put(o)
	}
	return int64(end), lines, skipped
}

// sync applies what other processes appended to the journal since the last
// look, and follows the file when another process rewrote it. Called with
// s.mu held before every lookup; a few microseconds when nothing changed.
func (s *Server) sync() {
	j := s.journal
	if j == nil || j.f == nil || j.err != nil {
		return
	}
	pi, err := os.Stat(j.path)
	if err != nil {
		return // gone: go on in memory, appending to the open file
	}
	if fi, err := j.f.Stat(); err == nil && !os.SameFile(pi, fi) {
		f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			j.err = fmt.Errorf("sandbox state: %w", err)
			return
		}
		_ = j.f.Close()
		j.f, j.off, j.lines = f, 0, 0
	}
	if pi.Size() <= j.off {
		return
	}
	r, err := os.Open(j.path)
	if err != nil {
		return
	}
	defer r.Close()
	b := make([]byte, pi.Size()-j.off)
	n, err := r.ReadAt(b, j.off)
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	consumed, lines, skipped := s.apply(b[:n])
	j.off += consumed
	j.lines += lines
	j.skipped += skipped
}

// SkippedStateLines returns how many lines of the state file could not be
// read (torn by a crash, or damaged) since Open; their changes are lost.
func (s *Server) SkippedStateLines() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal == nil {
		return 0
	}
	return s.journal.skipped
}

// put adds or replaces an order, forgetting the oldest beyond maxOrders.
// Called with s.mu held, or before s is shared.
func (s *Server) put(o *order) {
	if old, ok := s.orders[o.id]; ok {
		delete(s.byShort, old.shortID)
	} else {
		if len(s.seq) >= maxOrders {
			gone := s.orders[s.seq[0]]
			delete(s.orders, gone.id)
			delete(s.byShort, gone.shortID)
			s.seq = s.seq[1:]
		}
		s.seq = append(s.seq, o.id)
	}
	s.orders[o.id] = o
	s.byShort[o.shortID] = o
}

// compact rewrites the journal with one line per live order.
func (s *Server) compact(path string) error {
	var buf bytes.Buffer
	for _, id := range s.seq {
		b, err := json.Marshal(s.orders[id].stored())
		if err != nil {
			return fmt.Errorf("sandbox state: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	// A temporary file of its own (another process may compact too), renamed
	// over the journal: readers see the old file or the new, never half.
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("sandbox state: %w", err)
	}
	_, werr := tmp.Write(buf.Bytes())
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("sandbox state: %w", werr)
	}
	return nil
}

// save appends o to the journal. Called with s.mu held.
func (s *Server) save(o *order) {
	j := s.journal
	if j == nil || j.err != nil || j.f == nil {
		return
	}
	b, err := json.Marshal(o.stored())
	if err != nil {
		j.err = fmt.Errorf("sandbox state %s: %w", j.path, err)
		return
	}
	line := append(b, '\n')
	if _, err := j.f.Write(line); err != nil {
		j.err = fmt.Errorf("sandbox state %s: %w", j.path, err)
		return
	}
	// An append lands at the end of the file. If it starts where sync
	// stopped, nobody else wrote in between: skip reading it back.
	// Otherwise sync reads the other lines and this one (last line wins).
	if end, err := j.f.Seek(0, io.SeekCurrent); err == nil && end-int64(len(line)) == j.off {
		j.off, j.lines = end, j.lines+1
	}
	if stale(j.lines, len(s.orders), true) {
		s.rewriteJournal()
	}
}

// rewriteJournal compacts the journal of a running server. Called with
// s.mu held.
func (s *Server) rewriteJournal() {
	s.sync() // another process's latest lines go into the rewrite
	j := s.journal
	if j.f == nil || j.err != nil {
		return
	}
	if err := j.f.Close(); err != nil {
		j.err = fmt.Errorf("sandbox state %s: %w", j.path, err)
		return
	}
	j.f = nil
	if err := s.compact(j.path); err != nil {
		j.err = err
		return
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		j.err = fmt.Errorf("sandbox state: %w", err)
		return
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		j.err = fmt.Errorf("sandbox state: %w", err)
		return
	}
	j.f, j.off, j.lines = f, fi.Size(), len(s.orders)
}

// StateErr returns the first error writing the state file, or nil. After
// one, changes are no longer kept (the server goes on in memory).
func (s *Server) StateErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal == nil {
		return nil
	}
	return s.journal.err
}

// closeJournal closes the state file.
func (s *Server) closeJournal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal == nil || s.journal.f == nil {
		return nil
	}
	err := s.journal.f.Close()
	s.journal.f = nil
	return err
}
