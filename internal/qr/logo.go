package qr

// The logo rule. A branded code hides the modules under a white pad in its
// centre. Scanners forgive that only as far as error correction reaches and
// only if what they locate and sample the code by stays visible, so a pad is
// allowed when:
//
//  1. it touches no function pattern: finder patterns and their separators,
//     timing patterns, alignment patterns, format and version information,
//     the dark module; nor does the one-module ring around it. Versions
//     whose centre module is an alignment pattern's (7-13, 21-27, 35-40:
//     an odd number of alignment rows) have no such pad and are skipped;
//  2. in every Reed-Solomon block it hides at most a quarter of the block's
//     EC codewords, i.e. half of the errors the block can correct (a
//     codeword counts as hidden if any of its modules is under the pad),
//     leaving the other half for glare, blur and print defects;
//  3. it is a square of an odd number of modules, centred on the centre
//     module, at most padMaxPercent of the symbol and at least
//     minPadModules.
//
// Among the versions and levels (M, Q, H) that hold the data and allow such
// a pad, the smallest version wins (the largest modules for a given image
// size), then the highest level, then the largest pad. The quiet zone is
// quietModules (4) on every side, as for every code.

const (
	minPadModules  = 7  // smallest logo pad, modules
	padRingModules = 1  // data modules kept between the pad and any function pattern
	budgetDivisor  = 4  // a block may lose eccLen/budgetDivisor codewords to the pad
	padMaxPercent  = 26 // logo pad ≤ this % of the symbol width
)

// logoPlan is how a branded code is built.
type logoPlan struct {
	version int
	level   eccLevel
	pad     int // side of the centred pad, modules
}

// planLogo returns the first plan, in the order of the rule, of a version
// ≥ fromVersion for n bytes of data.
func planLogo(n, fromVersion int) (logoPlan, bool) {
	for ver := fromVersion; ver <= maxVersion; ver++ {
		if !fits(n, ver, eccM) {
			continue
		}
		var pl *placement
		for level := eccH; level >= eccM; level-- {
			if !fits(n, ver, level) {
				continue
			}
			if pl == nil {
				pl = newPlacement(ver)
			}
			if k := pl.largestPad(level); k > 0 {
				return logoPlan{version: ver, level: level, pad: k}, true
			}
		}
	}
	return logoPlan{}, false
}

// brandedCapacity is the most bytes a branded code carries.
func brandedCapacity() int {
	for ver := maxVersion; ver >= minVersion; ver-- {
		pl := newPlacement(ver)
		for level := eccM; level <= eccH; level++ {
			if pl.largestPad(level) > 0 {
				return (dataCodewords(ver, level)*8 - byteModeBits(ver, 0)) / 8
			}
		}
	}
	return 0
}

// placement is where a version puts its function patterns and codewords.
type placement struct {
	ver, n int
	fn     []bool  // function modules
	cw     []int32 // codeword (transmission order) of each data module; -1 for function modules and remainder bits
}

func newPlacement(ver int) *placement {
	m := &qrMatrix{size: 4*ver + 17, version: ver}
	n := m.size
	m.mod = make([]byte, n*n)
	p := &placement{ver: ver, n: n, fn: make([]bool, n*n), cw: make([]int32, n*n)}
	m.drawFunctionPatterns(p.fn)
	// The zigzag of drawCodewords, recording codeword indices.
	total := rawDataModules(ver) / 8 * 8
	i := 0
	for right := n - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		upward := (right+1)&2 == 0
		for vert := 0; vert < n; vert++ {
			y := vert
			if upward {
				y = n - 1 - vert
			}
			for j := 0; j < 2; j++ {
				c := y*n + right - j
				if p.fn[c] {
					p.cw[c] = -1
					continue
				}
				p.cw[c] = -1
				if i < total {
					p.cw[c] = int32(i / 8)
				}
				i++
			}
		}
	}
	return p
}

// largestPad returns the side of the largest pad the rule allows at level,
// or 0.
func (p *placement) largestPad(level eccLevel) int {
	k := p.n * padMaxPercent / 100
	if k%2 == 0 {
		k--
	}
	var blocks []int
	for ; k >= minPadModules; k -= 2 {
		if p.touchesFunction(k + 2*padRingModules) {
			continue
		}
		if blocks == nil {
			blocks = blockOf(p.ver, level)
		}
		if p.withinBudget(k, level, blocks) {
			return k
		}
	}
	return 0
}

// square returns the first module of the centred k-module square.
func (p *placement) square(k int) int { return (p.n - k) / 2 }

func (p *placement) touchesFunction(k int) bool {
	lo := p.square(k)
	for y := lo; y < lo+k; y++ {
		for x := lo; x < lo+k; x++ {
			if p.fn[y*p.n+x] {
				return true
			}
		}
	}
	return false
}

func (p *placement) withinBudget(k int, level eccLevel, blocks []int) bool {
	numBlocks, eccLen, _, _ := blockShape(p.ver, level)
	hidden := make([]int, numBlocks)
	seen := make(map[int32]bool)
	lo := p.square(k)
	for y := lo; y < lo+k; y++ {
		for x := lo; x < lo+k; x++ {
			c := p.cw[y*p.n+x]
			if c < 0 || seen[c] {
				continue
			}
			seen[c] = true
			hidden[blocks[c]]++
		}
	}
	for _, h := range hidden {
		if h > eccLen/budgetDivisor {
			return false
		}
	}
	return true
}
