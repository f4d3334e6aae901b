package qr

import (
	"strings"
	"testing"
)

// TestLogoRule checks every branded code for payloads of 1 byte up to the
// branded capacity against the rule of logo.go, from the matrix the encoder
// returns: the pad (and a one-module ring) holds no function module, it
// hides at most a quarter of any block's EC codewords, and it is centred,
// odd and between minPadModules and padMaxPercent of the symbol.
func TestLogoRule(t *testing.T) {
	t.Parallel()
	versions := map[int]bool{}
	for n := 1; n <= brandedCapacity(); n += 1 + n/8 {
		m, err := encodeBranded([]byte(strings.Repeat("a", n)), autoMask, maxVersion)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		versions[m.version] = true
		if m.level < eccM {
			t.Fatalf("%d bytes: level %v, below M", n, m.level)
		}
		if m.padK < minPadModules || m.padK%2 == 0 || m.padK*100 > m.size*padMaxPercent {
			t.Fatalf("%d bytes: pad of %d modules in a %d-module symbol", n, m.padK, m.size)
		}
		pl := newPlacement(m.version)
		if pl.touchesFunction(m.padK + 2*padRingModules) {
			t.Fatalf("%d bytes: v%d pad %d (with its ring) covers a function pattern", n, m.version, m.padK)
		}
		if c := len(alignmentPositions(m.version)); c%2 == 1 {
			t.Fatalf("%d bytes: v%d has an alignment pattern in its centre", n, m.version)
		}
		numBlocks, eccLen, _, _ := blockShape(m.version, m.level)
		hidden := make([]int, numBlocks)
		blocks := blockOf(m.version, m.level)
		seen := map[int32]bool{}
		lo := (m.size - m.padK) / 2
		for y := lo; y < lo+m.padK; y++ {
			for x := lo; x < lo+m.padK; x++ {
				if c := pl.cw[y*m.size+x]; c >= 0 && !seen[c] {
					seen[c] = true
					hidden[blocks[c]]++
				}
			}
		}
		for b, h := range hidden {
			if h*budgetDivisor > eccLen {
				t.Fatalf("%d bytes: v%d-%v pad hides %d codewords of block %d (EC %d)", n, m.version, m.level, h, b, eccLen)
			}
		}
	}
	for v := range versions {
		if v >= 7 && v <= 13 {
			t.Errorf("version %d chosen: its centre alignment pattern would be under the logo", v)
		}
	}
}

// TestPlacementMatchesEncoder: the codeword map the rule relies on is where
// the encoder really puts the codewords.
func TestPlacementMatchesEncoder(t *testing.T) {
	t.Parallel()
	for _, ver := range []int{1, 2, 6, 7, 14, 22, 40} {
		n := 4*ver + 17
		m := &qrMatrix{size: n, version: ver, mod: make([]byte, n*n)}
		fn := make([]bool, n*n)
		// Set one codeword's bits at a time and look where they land.
		pl := newPlacement(ver)
		total := rawDataModules(ver) / 8
		for _, cw := range []int{0, 1, total / 2, total - 1} {
			buf := make([]byte, total)
			buf[cw] = 0xff
			clear(m.mod)
			m.drawFunctionPatterns(fn)
			m.drawCodewords(fn, buf)
			got := 0
			for i := range m.mod {
				if !fn[i] && m.mod[i] == 1 {
					got++
					if pl.cw[i] != int32(cw) {
						t.Fatalf("v%d: a bit of codeword %d at module %d, placement says %d", ver, cw, i, pl.cw[i])
					}
				}
			}
			if got != 8 {
				t.Fatalf("v%d: codeword %d has %d modules, want 8", ver, cw, got)
			}
		}
	}
}
