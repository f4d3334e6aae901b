package qr

import (
	"math/rand"
	"testing"
)

// The mask scorer (maskScorer) is an optimised rewrite of the scoring below,
// which is kept as the reference it must agree with exactly: the same
// penalties choose the same masks, so every rendered PNG stays byte for byte
// what it was.

// penalty scores the matrix with the four rules of the standard; lower is
// better.
func refPenalty(m *qrMatrix) int {
	n := m.size
	p := 0
	line := make([]byte, n)
	for pass := 0; pass < 2; pass++ {
		for a := 0; a < n; a++ {
			for b := 0; b < n; b++ {
				if pass == 0 {
					line[b] = m.mod[a*n+b] // row a
				} else {
					line[b] = m.mod[b*n+a] // column a
				}
			}
			p += linePenalty(line)
		}
	}
	dark := 0
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			c := m.mod[y*n+x]
			dark += int(c)
			if x < n-1 && y < n-1 && c == m.mod[y*n+x+1] && c == m.mod[(y+1)*n+x] && c == m.mod[(y+1)*n+x+1] {
				p += 3 // rule 2: 2×2 block
			}
		}
	}
	// Rule 4: 10 points per 5% of deviation from half dark.
	total := n * n
	k := (abs(dark*20-total*10)+total-1)/total - 1
	return p + max(k, 0)*10 + refFalseFinders(m)*falseFinderPenalty
}

// falseFinders counts dark modules outside the three real finder patterns
// that pass a detector's finder test across and down: dark-light-dark-
// light-dark runs in about 1:1:3:1:1 proportion, with ZXing's tolerance of
// half a module per run.
func refFalseFinders(m *qrMatrix) int {
	n := m.size
	g := m.mod
	if m.padK > 0 {
		k := m.padK
		lo := (n - k) / 2
		g = append([]byte(nil), m.mod...)
		for y := lo; y < lo+k; y++ {
			clear(g[y*n+lo : y*n+lo+k])
		}
	}
	// Column runs, indexed by cell, so the cross-check down is O(1).
	cols := make([][]run, n)
	colRun := make([]int32, n*n)
	for x := 0; x < n; x++ {
		cols[x] = refRunsOf(n, func(i int) byte { return g[i*n+x] }, func(i, r int) { colRun[i*n+x] = int32(r) })
	}
	count := 0
	for y := 0; y < n; y++ {
		row := refRunsOf(n, func(i int) byte { return g[y*n+i] }, nil)
		for i := range row {
			if !finderRuns(row, i) {
				continue
			}
			x := row[i].start + row[i].len/2
			if (x < 8 && y < 8) || (x >= n-8 && y < 8) || (x < 8 && y >= n-8) {
				continue // a real finder
			}
			if finderRuns(cols[x], int(colRun[y*n+x])) {
				count++
			}
		}
	}
	return count
}

// runsOf splits the n modules read by at into runs; mark, if set, learns
// which run each module belongs to.
func refRunsOf(n int, at func(int) byte, mark func(i, r int)) []run {
	var runs []run
	for i := 0; i < n; i++ {
		d := at(i) != 0
		if len(runs) == 0 || runs[len(runs)-1].dark != d {
			runs = append(runs, run{start: i, dark: d})
		}
		runs[len(runs)-1].len++
		if mark != nil {
			mark(i, len(runs)-1)
		}
	}
	return runs
}

func TestMaskScorerMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	check := func(t *testing.T, m *qrMatrix) {
		t.Helper()
		s := newMaskScorer(m.size, m.padK)
		for range 2 { // twice: the scorer's buffers are reused
			p, ff := s.score(m.mod)
			if want := refPenalty(m); p != want {
				t.Fatalf("n=%d pad=%d: penalty %d, reference %d", m.size, m.padK, p, want)
			}
			if want := refFalseFinders(m); ff != want {
				t.Fatalf("n=%d pad=%d: false finders %d, reference %d", m.size, m.padK, ff, want)
			}
		}
	}
	// Random matrices, and sparse ones (long light runs, many finder-like
	// crosses), of several versions.
	for _, ver := range []int{1, 2, 5, 8, 13, 27, 40} {
		n := 4*ver + 17
		for _, density := range []float64{0.5, 0.15, 0.85} {
			for _, pad := range []bool{false, true} {
				for range 5 {
					m := &qrMatrix{size: n, mod: make([]byte, n*n), padK: testPad(n, pad)}
					for i := range m.mod {
						if r.Float64() < density {
							m.mod[i] = 1
						}
					}
					check(t, m)
				}
			}
		}
	}
	// Real codes under every mask.
	for _, data := range append(randomAddresses(3, 40), payBTCURI, payWebURL) {
		for _, pad := range []bool{false, true} {
			for k := range 8 {
				m, err := encodeQR([]byte(data), eccH, true, k)
				if err != nil {
					t.Fatal(err)
				}
				m.padK = testPad(m.size, pad)
				check(t, m)
			}
		}
	}
}

// TestAutoMaskMatchesReference: the mask (and version) the encoder picks is
// the one the reference scoring picks.
func TestAutoMaskMatchesReference(t *testing.T) {
	for _, data := range append(randomAddresses(4, 150), payBTCURI, payWebURL) {
		for _, pad := range []bool{false, true} {
			got, err := encodeQR([]byte(data), eccM, true, autoMask)
			if pad {
				got, err = encodeBranded([]byte(data), autoMask, maxVersion)
			}
			if err != nil {
				t.Fatal(err)
			}
			best := -1
			bestPenalty := 0
			for k := range 8 {
				m := encodeAt([]byte(data), got.version, got.level, k, got.padK)
				if p := refPenalty(m); best < 0 || p < bestPenalty {
					best, bestPenalty = k, p
				}
			}
			if got.mask != best {
				t.Fatalf("%s pad=%v: mask %d, reference scoring picks %d", data, pad, got.mask, best)
			}
			if want := refFalseFinders(got); got.falseFinderCount() != want {
				t.Fatalf("%s pad=%v: remembered %d false finders, reference %d", data, pad, got.falseFinderCount(), want)
			}
		}
	}
}

// testPad is the side of a logo pad of about padMaxPercent of n modules
// (odd), or 0 without one.
func testPad(n int, pad bool) int {
	if !pad {
		return 0
	}
	k := n * padMaxPercent / 100
	if k%2 == 0 {
		k--
	}
	return k
}
