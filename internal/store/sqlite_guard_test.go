package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// openGuarded opens a store at a fresh path with one event saved.
func openGuarded(t *testing.T) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cryptopay.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	mustSave(t, s, ev("p1", "CO", "1", true, t0), "", time.Time{})
	return s, path
}

// overwrite replaces the file's bytes in place (same inode) with junk.
func overwrite(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, int(fi.Size())), 0); err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteFaultsFailWrites: once the file the store writes is removed,
// replaced or overwritten, no write is reported as done (on main, SQLite
// wrote on into the unlinked inode and every delivery got 200).
func TestSQLiteFaultsFailWrites(t *testing.T) {
	tests := []struct {
		name    string
		fault   func(t *testing.T, path string)
		corrupt bool
		reason  string
	}{
		{"removed", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, false, "was removed"},
		{"removed with its wal", func(t *testing.T, path string) {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}, false, "was removed"},
		{"wal removed", func(t *testing.T, path string) {
			if err := os.Remove(path + "-wal"); err != nil {
				t.Fatal(err)
			}
		}, false, "-wal"},
		{"replaced", func(t *testing.T, path string) {
			other := path + ".new"
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}, false, "was replaced"},
		{"overwritten", overwrite, true, "is corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openGuarded(t)
			ctx := context.Background()
			tt.fault(t, path)

			_, err := s.SaveEvent(ctx, ev("p1", "CO", "2", true, t0.Add(time.Second)), "k2", t0.Add(time.Hour))
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrCorrupt) != tt.corrupt {
				t.Fatalf("SaveEvent after the fault: %v, want ErrUnavailable (corrupt %v)", err, tt.corrupt)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not name the file and %q", err, tt.reason)
			}
			// The fault is sticky, and the main state (same file) refuses too.
			if _, err := s.SaveEvent(ctx, ev("p1", "CO", "3", true, t0), "", time.Time{}); !errors.Is(err, ErrUnavailable) {
				t.Errorf("second SaveEvent: %v", err)
			}
			if _, _, err := s.ClaimIdempotency(ctx, "k", "stdio", "create_payment_link", "h", t0); !errors.Is(err, ErrUnavailable) {
				t.Errorf("ClaimIdempotency: %v", err)
			}
			if err := s.SavePayment(ctx, Payment{Identifier: "x"}); !errors.Is(err, ErrUnavailable) {
				t.Errorf("SavePayment: %v", err)
			}
			if _, err := s.ReserveSpend(ctx, Spend{InvoiceID: "i", Day: "d", AmountCents: 1}, 100); !errors.Is(err, ErrUnavailable) {
				t.Errorf("ReserveSpend: %v", err)
			}
			if err := s.Ping(ctx); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

// TestSQLiteNoFalseFault: a healthy store under ordinary use never trips
// the guard, across checkpoints and many connections.
func TestSQLiteNoFalseFault(t *testing.T) {
	s, _ := openGuarded(t)
	ctx := context.Background()
	for i := range 800 {
		mustSave(t, s, ev(fmt.Sprintf("p%d", i%7), "CO", fmt.Sprint(i+10), true, t0.Add(time.Duration(i)*time.Millisecond)), "", time.Time{})
		if i%200 == 0 {
			if _, err := s.PruneEvents(ctx, 300, time.Time{}, t0); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.ListEvents(ctx, EventQuery{Limit: 5}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check of a healthy store: %v", err)
	}
}

// TestSQLiteCorruptAtStart: a corrupt file is refused at open with one
// line naming the file and the way out; on main the open failed deep in a
// migration (or later, at the first read).
func TestSQLiteCorruptAtStart(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"overwritten", overwrite},
		{"pages damaged, header intact", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < 3*4096 {
				t.Fatalf("file too small to damage a page: %d", len(b))
			}
			for i := 4096; i < len(b); i++ {
				b[i] = byte(i * 7)
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("hello, this is not a database file at all, but it is long enough\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "cryptopay.db")
			s, err := OpenSQLite(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				mustSave(t, s, ev(fmt.Sprintf("p%d", i), "CO", "1", true, t0), "", time.Time{})
			}
			if err := s.Close(); err != nil { // checkpoints the WAL into the file
				t.Fatal(err)
			}
			tt.damage(t, path)
			s, err = OpenSQLite(ctx, path)
			if err == nil {
				_ = s.Close()
				t.Fatal("a corrupt store opened")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open: %v, want ErrCorrupt", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, path) || !strings.Contains(msg, "move") {
				t.Errorf("open error is not one line naming the file and the way out: %q", msg)
			}
		})
	}
}

// TestSQLiteCorruptionFoundByARead: a read that meets a damaged page runs
// quick_check and stops the writes, so a delivery is no longer
// acknowledged while the listing fails.
func TestSQLiteCorruptionFoundByARead(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cryptopay.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 300 {
		mustSave(t, s, ev(fmt.Sprintf("p%d", i), "CO", "1", true, t0), "", time.Time{})
	}
	// Move the WAL into the file, then damage every page after the first
	// (the header stays valid, so only SQLite itself can tell).
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	junk := bytes.Repeat([]byte{0x5A}, int(fi.Size())-4096)
	if _, err := f.WriteAt(junk, 4096); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	// Drop the read connections' caches so the next read sees the damage.
	s.db.SetMaxIdleConns(0)
	s.db.SetMaxIdleConns(2)

	if _, _, err := s.ListEvents(ctx, EventQuery{Limit: 500}); err == nil {
		t.Skip("the damage did not reach a read (page cache)")
	}
	if _, err := s.SaveEvent(ctx, ev("q", "CO", "1", true, t0), "", time.Time{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("SaveEvent after a corrupt read: %v, want ErrCorrupt", err)
	}
}

// BenchmarkFileGuardVerify is what every commit pays for the check that
// the file is still the one the next start reads.
func BenchmarkFileGuardVerify(b *testing.B) {
	path := filepath.Join(b.TempDir(), "cryptopay.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.guard.verify(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenSQLiteQuickCheck is the start-up cost of opening (and
// quick_check-ing) a store holding 20,000 webhook events.
func BenchmarkOpenSQLiteQuickCheck(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "cryptopay.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 20000 / 64 {
				e, key := typicalEvent(g*100000+i, t0)
				if _, err := s.SaveEvent(ctx, e, key, t0.Add(time.Hour)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(path)
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
	for b.Loop() {
		s, err := OpenSQLite(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
	}
}
