package qr

// A small QR code (ISO/IEC 18004) matrix encoder: byte mode, versions 1-40,
// all four error correction levels, automatic mask selection.
//
// github.com/boombuler/barcode/qr produces the same matrices (the tests check
// that module for module), but it spends about 4 ms per code scoring its
// eight mask candidates through a bit list, which alone would blow the 5 ms
// budget of a 512 px render. This encoder works on a byte per module and
// takes a few hundred microseconds.

import (
	"errors"
	"fmt"
)

// eccLevel is a QR error correction level, in increasing strength.
type eccLevel int

const (
	eccL eccLevel = iota // ~7% recoverable
	eccM                 // ~15%
	eccQ                 // ~25%
	eccH                 // ~30%
)

func (l eccLevel) String() string { return [...]string{"L", "M", "Q", "H"}[l] }

// formatBits is the level's 2-bit code in the format information.
func (l eccLevel) formatBits() int { return [...]int{1, 0, 3, 2}[l] }

const (
	minVersion = 1
	maxVersion = 40
	autoMask   = -1
)

// Error correction codewords per block and number of blocks, indexed by
// level then version (index 0 unused). ISO/IEC 18004:2015 table 9.
var (
	eccCodewordsPerBlock = [4][41]int8{
		{-1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
		{-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28},
		{-1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
		{-1, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
	}
	eccBlocks = [4][41]int8{
		{-1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25},
		{-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49},
		{-1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68},
		{-1, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81},
	}
)

// rawDataModules is the number of modules available for codewords (data and
// error correction, remainder bits included) in a version.
func rawDataModules(ver int) int {
	n := (16*ver+128)*ver + 64
	if ver >= 2 {
		align := ver/7 + 2
		n -= (25*align-10)*align - 55
		if ver >= 7 {
			n -= 36
		}
	}
	return n
}

// dataCodewords is the number of 8-bit data codewords of a version and level.
func dataCodewords(ver int, l eccLevel) int {
	return rawDataModules(ver)/8 - int(eccCodewordsPerBlock[l][ver])*int(eccBlocks[l][ver])
}

// byteModeBits is the length of a byte-mode segment of n bytes.
func byteModeBits(ver, n int) int {
	count := 8
	if ver >= 10 {
		count = 16
	}
	return 4 + count + 8*n
}

// qrMatrix is an encoded symbol: size×size modules, row-major, 1 = dark.
type qrMatrix struct {
	size    int
	version int
	level   eccLevel
	mask    int
	mod     []byte
	// padK is the side, in modules, of the centred square a logo pad will
	// cover (0: no logo), so mask choice judges the code as it will look.
	padK int
	// ff is the number of false finders of the chosen mask when the encoder
	// chose it (autoMask), -1 otherwise.
	ff int
}

// falseFinderCount is falseFinders, remembered from the mask choice when
// there was one.
func (m *qrMatrix) falseFinderCount() int {
	if m.ff >= 0 {
		return m.ff
	}
	return m.falseFinders()
}

func (m *qrMatrix) dark(x, y int) bool { return m.mod[y*m.size+x] != 0 }

// encodeQR encodes data in byte mode at the smallest version that holds it
// at level minLevel, then raises the level as far as that version allows (more
// redundancy at no cost in size). mask is 0..7 or autoMask.
func encodeQR(data []byte, minLevel eccLevel, boost bool, mask int) (*qrMatrix, error) {
	return encodeQRUpTo(data, minLevel, boost, mask, maxVersion)
}

// encodeQRUpTo is encodeQR looking for a matrix without false finders only
// in versions up to upTo (the largest that fits the image).
func encodeQRUpTo(data []byte, minLevel eccLevel, boost bool, mask, upTo int) (*qrMatrix, error) {
	next := func(from int) (*qrMatrix, error) { return encodeFrom(data, minLevel, boost, mask, from) }
	return encodeAvoidingFalseFinders(next, mask, upTo)
}

// encodeBranded encodes data for a code with a logo in its centre: the
// version, level and pad of planLogo (see logo.go). upTo bounds the
// versions tried when looking for a matrix without false finders.
func encodeBranded(data []byte, mask, upTo int) (*qrMatrix, error) {
	next := func(from int) (*qrMatrix, error) {
		p, ok := planLogo(len(data), from)
		if !ok {
			if from > minVersion {
				return nil, errNoMoreVersions
			}
			return nil, fmt.Errorf("%w: %d bytes exceed the %d bytes a branded code carries with its logo clear of every function pattern (use the basic style)",
				ErrDataTooLong, len(data), brandedCapacity())
		}
		return encodeAt(data, p.version, p.level, mask, p.pad), nil
	}
	return encodeAvoidingFalseFinders(next, mask, upTo)
}

// errNoMoreVersions ends the search for a matrix without false finders.
var errNoMoreVersions = errors.New("qr: no larger version")

// encodeAvoidingFalseFinders returns next(minVersion), or, when every mask
// of it leaves something a detector may take for a finder pattern, the best
// of it and the one or two matrices next returns from the versions above, up
// to version upTo.
func encodeAvoidingFalseFinders(next func(fromVersion int) (*qrMatrix, error), mask, upTo int) (*qrMatrix, error) {
	best, err := next(minVersion)
	if err != nil || mask != autoMask {
		return best, err
	}
	cur := best
	for tries := 0; tries < 2 && best.falseFinderCount() > 0 && cur.version < min(upTo, maxVersion); tries++ {
		m, err := next(cur.version + 1)
		if err != nil || m.version > upTo {
			break
		}
		if m.falseFinderCount() < best.falseFinderCount() {
			best = m
		}
		cur = m
	}
	return best, nil
}

// encodeFrom encodes data in the smallest version ≥ fromVersion that holds it.
func encodeFrom(data []byte, minLevel eccLevel, boost bool, mask, fromVersion int) (*qrMatrix, error) {
	ver := 0
	for v := fromVersion; v <= maxVersion; v++ {
		if fits(len(data), v, minLevel) {
			ver = v
			break
		}
	}
	if ver == 0 {
		return nil, fmt.Errorf("%w: %d bytes exceed the %d-byte capacity at error correction %s",
			ErrDataTooLong, len(data), dataCodewords(maxVersion, minLevel)-3, minLevel)
	}
	level := minLevel
	for boost && level < eccH && fits(len(data), ver, level+1) {
		level++
	}
	return encodeAt(data, ver, level, mask, 0), nil
}

// fits reports whether n bytes fit in a byte-mode segment of a version and level.
func fits(n, ver int, l eccLevel) bool {
	return byteModeBits(ver, n) <= dataCodewords(ver, l)*8
}

// encodeAt encodes data in a version and level that hold it; padK is the
// side of the logo pad the mask choice must expect (0: none).
func encodeAt(data []byte, ver int, level eccLevel, mask, padK int) *qrMatrix {

	// Data codewords: mode, count, bytes, terminator, byte padding, pad codewords.
	capacity := dataCodewords(ver, level)
	w := bitWriter{buf: make([]byte, 0, capacity)}
	w.write(0b0100, 4)
	if ver >= 10 {
		w.write(uint32(len(data)), 16)
	} else {
		w.write(uint32(len(data)), 8)
	}
	for _, b := range data {
		w.write(uint32(b), 8)
	}
	w.write(0, min(4, capacity*8-w.n))
	if r := w.n % 8; r != 0 {
		w.write(0, 8-r)
	}
	for pad := byte(0xEC); len(w.buf) < capacity; pad ^= 0xEC ^ 0x11 {
		w.buf = append(w.buf, pad)
	}

	m := &qrMatrix{size: 4*ver + 17, version: ver, level: level, mask: mask, padK: padK}
	m.mod = make([]byte, m.size*m.size)
	fn := make([]bool, m.size*m.size)
	m.drawFunctionPatterns(fn)
	m.drawCodewords(fn, addErrorCorrection(w.buf, ver, level))

	m.ff = -1
	if mask == autoMask {
		best, bestPenalty, bestFF := 0, -1, 0
		s := newMaskScorer(m.size, padK)
		for k := 0; k < 8; k++ {
			m.applyMask(fn, k)
			m.drawFormatBits(fn, k)
			if p, ff := s.score(m.mod); bestPenalty < 0 || p < bestPenalty {
				best, bestPenalty, bestFF = k, p, ff
			}
			m.applyMask(fn, k) // XOR again: undo
		}
		mask, m.ff = best, bestFF
	}
	m.mask = mask
	m.applyMask(fn, mask)
	m.drawFormatBits(fn, mask)
	return m
}

type bitWriter struct {
	buf []byte
	n   int // bits written
}

func (w *bitWriter) write(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 != 0 {
			w.buf[len(w.buf)-1] |= 0x80 >> uint(w.n%8)
		}
		w.n++
	}
}

// blockOf returns, for every codeword in transmission order (the order
// addErrorCorrection interleaves them in), the Reed-Solomon block it
// belongs to.
func blockOf(ver int, l eccLevel) []int {
	numBlocks, eccLen, numShort, shortLen := blockShape(ver, l)
	out := make([]int, 0, rawDataModules(ver)/8)
	for i := 0; i <= shortLen; i++ {
		for j := 0; j < numBlocks; j++ {
			if i != shortLen-eccLen || j >= numShort {
				out = append(out, j)
			}
		}
	}
	return out
}

// blockShape returns the number of blocks, the EC codewords per block, the
// number of short blocks and the length (data + EC) of a short block; long
// blocks have one data codeword more.
func blockShape(ver int, l eccLevel) (numBlocks, eccLen, numShort, shortLen int) {
	numBlocks = int(eccBlocks[l][ver])
	eccLen = int(eccCodewordsPerBlock[l][ver])
	raw := rawDataModules(ver) / 8
	return numBlocks, eccLen, numBlocks - raw%numBlocks, raw / numBlocks
}

// addErrorCorrection splits data into blocks, appends each block's
// Reed-Solomon codewords and interleaves the result.
func addErrorCorrection(data []byte, ver int, l eccLevel) []byte {
	numBlocks, eccLen, numShort, shortLen := blockShape(ver, l)
	raw := rawDataModules(ver) / 8

	gen := rsGenerator(eccLen)
	blocks := make([][]byte, numBlocks)
	for i, k := 0, 0; i < numBlocks; i++ {
		n := shortLen - eccLen
		if i >= numShort {
			n++
		}
		blk := make([]byte, 0, shortLen+1)
		blk = append(blk, data[k:k+n]...)
		k += n
		ecc := rsRemainder(blk, gen)
		if i < numShort {
			blk = append(blk, 0) // placeholder so that all blocks align
		}
		blocks[i] = append(blk, ecc...)
	}

	out := make([]byte, 0, raw)
	for i := 0; i <= shortLen; i++ {
		for j, blk := range blocks {
			if i != shortLen-eccLen || j >= numShort { // skip placeholders
				out = append(out, blk[i])
			}
		}
	}
	return out
}

// gfMul multiplies in GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1.
func gfMul(x, y byte) byte {
	var z byte
	for i := 7; i >= 0; i-- {
		z = z<<1 ^ (z>>7)*0x1D
		z ^= (y >> uint(i) & 1) * x
	}
	return z
}

// rsGenerator returns the coefficients (highest degree first, leading 1
// dropped) of the generator polynomial of the given degree.
func rsGenerator(degree int) []byte {
	g := make([]byte, degree)
	g[degree-1] = 1
	root := byte(1)
	for i := 0; i < degree; i++ {
		for j := range g {
			g[j] = gfMul(g[j], root)
			if j+1 < len(g) {
				g[j] ^= g[j+1]
			}
		}
		root = gfMul(root, 0x02)
	}
	return g
}

func rsRemainder(data, gen []byte) []byte {
	r := make([]byte, len(gen))
	for _, b := range data {
		f := b ^ r[0]
		copy(r, r[1:])
		r[len(r)-1] = 0
		for i := range r {
			r[i] ^= gfMul(gen[i], f)
		}
	}
	return r
}

func (m *qrMatrix) set(fn []bool, x, y int, dark bool) {
	i := y*m.size + x
	m.mod[i] = 0
	if dark {
		m.mod[i] = 1
	}
	fn[i] = true
}

func (m *qrMatrix) drawFunctionPatterns(fn []bool) {
	n := m.size
	for i := 0; i < n; i++ { // timing patterns
		m.set(fn, 6, i, i%2 == 0)
		m.set(fn, i, 6, i%2 == 0)
	}
	m.drawFinder(fn, 3, 3)
	m.drawFinder(fn, n-4, 3)
	m.drawFinder(fn, 3, n-4)

	pos := alignmentPositions(m.version)
	last := len(pos) - 1
	for i, y := range pos {
		for j, x := range pos {
			if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) {
				continue // finder corners
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					m.set(fn, x+dx, y+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}

	m.drawFormatBits(fn, 0) // reserves the areas; redrawn once the mask is known
	if m.version >= 7 {
		rem := m.version
		for i := 0; i < 12; i++ {
			rem = rem<<1 ^ (rem>>11)*0x1F25
		}
		bits := m.version<<12 | rem
		for i := 0; i < 18; i++ {
			d := bits>>uint(i)&1 != 0
			a, b := n-11+i%3, i/3
			m.set(fn, a, b, d)
			m.set(fn, b, a, d)
		}
	}
}

// drawFinder draws a finder pattern and its separator centred on (cx, cy).
func (m *qrMatrix) drawFinder(fn []bool, cx, cy int) {
	for dy := -4; dy <= 4; dy++ {
		for dx := -4; dx <= 4; dx++ {
			x, y := cx+dx, cy+dy
			if x < 0 || x >= m.size || y < 0 || y >= m.size {
				continue
			}
			d := max(abs(dx), abs(dy))
			m.set(fn, x, y, d != 2 && d != 4)
		}
	}
}

func (m *qrMatrix) drawFormatBits(fn []bool, mask int) {
	data := m.level.formatBits()<<3 | mask
	rem := data
	for i := 0; i < 10; i++ {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	bits := (data<<10 | rem) ^ 0x5412
	bit := func(i int) bool { return bits>>uint(i)&1 != 0 }
	n := m.size
	for i := 0; i <= 5; i++ {
		m.set(fn, 8, i, bit(i))
	}
	m.set(fn, 8, 7, bit(6))
	m.set(fn, 8, 8, bit(7))
	m.set(fn, 7, 8, bit(8))
	for i := 9; i < 15; i++ {
		m.set(fn, 14-i, 8, bit(i))
	}
	for i := 0; i < 8; i++ {
		m.set(fn, n-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		m.set(fn, 8, n-15+i, bit(i))
	}
	m.set(fn, 8, n-8, true) // the dark module
}

// alignmentPositions returns the row/column centres of the alignment
// patterns of a version.
func alignmentPositions(ver int) []int {
	if ver == 1 {
		return nil
	}
	num := ver/7 + 2
	step := 26
	if ver != 32 {
		step = ((ver*4 + 4 + num*2 - 3) / (num*2 - 2)) * 2 // ceil((4v+4)/(2num-2)) * 2
	}
	pos := make([]int, num)
	pos[0] = 6
	for i, p := num-1, 4*ver+17-7; i >= 1; i, p = i-1, p-step {
		pos[i] = p
	}
	return pos
}

// drawCodewords places the codewords in the zigzag order of the standard.
func (m *qrMatrix) drawCodewords(fn []bool, cw []byte) {
	n := m.size
	i := 0
	for right := n - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5 // skip the vertical timing pattern
		}
		upward := (right+1)&2 == 0
		for vert := 0; vert < n; vert++ {
			y := vert
			if upward {
				y = n - 1 - vert
			}
			for j := 0; j < 2; j++ {
				x := right - j
				if fn[y*n+x] || i >= len(cw)*8 {
					continue // remainder bits stay light
				}
				m.mod[y*n+x] = cw[i>>3] >> uint(7-i&7) & 1
				i++
			}
		}
	}
}

// applyMask XORs the data modules (the cells not in fn) with mask pattern k;
// applying it twice restores the matrix.
func (m *qrMatrix) applyMask(fn []bool, k int) {
	n := m.size
	for y := 0; y < n; y++ {
		row, fnRow := m.mod[y*n:(y+1)*n], fn[y*n:(y+1)*n]
		for x := range row {
			if !fnRow[x] && maskBit(k, x, y) {
				row[x] ^= 1
			}
		}
	}
}

// maskBit reports whether mask pattern k inverts the module at (x, y).
func maskBit(k, x, y int) bool {
	switch k {
	case 0:
		return (x+y)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (x+y)%3 == 0
	case 4:
		return (x/3+y/2)%2 == 0
	case 5:
		return x*y%2+x*y%3 == 0
	case 6:
		return (x*y%2+x*y%3)%2 == 0
	default:
		return ((x+y)%2+x*y%3)%2 == 0
	}
}

// penalty scores the matrix with the four rules of the standard plus
// falseFinderPenalty per false finder; lower is better.
func (m *qrMatrix) penalty() int {
	p, _ := newMaskScorer(m.size, m.padK).score(m.mod)
	return p
}

// falseFinderPenalty outweighs every rule of the standard: a mask that
// draws something a detector takes for a finder pattern in the data region
// can make it lock on that (ZXing does, for about 1 code in 250 chosen by
// the standard's rules alone), so such masks are used only if all eight
// have one.
const falseFinderPenalty = 1000

// falseFinders counts dark modules outside the three real finder patterns
// that pass a detector's finder test across and down: dark-light-dark-
// light-dark runs in about 1:1:3:1:1 proportion, with ZXing's tolerance of
// half a module per run. A matrix with a logo pad is judged with the pad
// cleared.
func (m *qrMatrix) falseFinders() int {
	return newMaskScorer(m.size, m.padK).falseFinders(m.mod)
}

// maskScorer scores the eight mask candidates of one n-module matrix. It
// owns every buffer the scoring needs, so choosing a mask allocates once
// rather than per line and per mask.
type maskScorer struct {
	n       int
	padLo   int     // first module of the logo pad, or -1 without a pad
	padK    int     // side of the logo pad, in modules
	t       []byte  // transpose of the matrix being scored (columns as rows)
	g, gt   []byte  // matrix and transpose with the logo pad cleared (logo pad only)
	runs    []run   // runs of the current row
	colRuns []run   // runs of every column, column after column
	colOff  []int32 // column x's runs are colRuns[colOff[x]:colOff[x+1]]
	colRun  []int32 // colRun[x*n+y]: index, within column x, of the run holding row y
}

func newMaskScorer(n, padK int) *maskScorer {
	s := &maskScorer{
		n: n, padLo: -1,
		t:      make([]byte, n*n),
		runs:   make([]run, 0, n),
		colOff: make([]int32, n+1),
		colRun: make([]int32, n*n),
	}
	if padK > 0 {
		s.padK = padK
		s.padLo = (n - s.padK) / 2
		s.g, s.gt = make([]byte, n*n), make([]byte, n*n)
	}
	return s
}

// score returns the penalty of mod (as penalty defines it) and its number of
// false finders.
func (s *maskScorer) score(mod []byte) (penalty, falseFinders int) {
	n := s.n
	transpose(s.t, mod, n)
	p := 0
	for a := 0; a < n; a++ {
		p += linePenalty(mod[a*n:(a+1)*n]) + linePenalty(s.t[a*n:(a+1)*n])
	}
	dark := 0
	for y := 0; y < n; y++ {
		row := mod[y*n : (y+1)*n]
		for x, c := range row {
			dark += int(c)
			if x < n-1 && y < n-1 && c == row[x+1] && c == mod[(y+1)*n+x] && c == mod[(y+1)*n+x+1] {
				p += 3 // rule 2: 2×2 block
			}
		}
	}
	// Rule 4: 10 points per 5% of deviation from half dark.
	total := n * n
	k := (abs(dark*20-total*10)+total-1)/total - 1
	p += max(k, 0) * 10

	g, gt := mod, s.t
	if s.padLo >= 0 {
		copy(s.g, mod)
		copy(s.gt, s.t)
		for y := s.padLo; y < s.padLo+s.padK; y++ {
			clear(s.g[y*n+s.padLo : y*n+s.padLo+s.padK])
			clear(s.gt[y*n+s.padLo : y*n+s.padLo+s.padK]) // the pad is a centred square: same cells transposed
		}
		g, gt = s.g, s.gt
	}
	ff := s.countFalseFinders(g, gt)
	return p + ff*falseFinderPenalty, ff
}

// falseFinders counts the false finders of mod (see qrMatrix.falseFinders).
func (s *maskScorer) falseFinders(mod []byte) int {
	_, ff := s.score(mod)
	return ff
}

// countFalseFinders counts false finders in g, whose transpose is gt.
func (s *maskScorer) countFalseFinders(g, gt []byte) int {
	n := s.n
	// Column runs, with the run of every cell, so the cross-check down is O(1).
	s.colRuns = s.colRuns[:0]
	for x := 0; x < n; x++ {
		s.colOff[x] = int32(len(s.colRuns))
		s.colRuns = appendRuns(s.colRuns, gt[x*n:(x+1)*n], s.colRun[x*n:(x+1)*n])
	}
	s.colOff[n] = int32(len(s.colRuns))
	count := 0
	for y := 0; y < n; y++ {
		s.runs = appendRuns(s.runs[:0], g[y*n:(y+1)*n], nil)
		row := s.runs
		for i := range row {
			if !finderRuns(row, i) {
				continue
			}
			x := row[i].start + row[i].len/2
			if (x < 8 && y < 8) || (x >= n-8 && y < 8) || (x < 8 && y >= n-8) {
				continue // a real finder
			}
			if finderRuns(s.colRuns[s.colOff[x]:s.colOff[x+1]], int(s.colRun[x*n+y])) {
				count++
			}
		}
	}
	return count
}

// transpose writes the transpose of the n×n matrix src into dst.
func transpose(dst, src []byte, n int) {
	for y := 0; y < n; y++ {
		for x, c := range src[y*n : (y+1)*n] {
			dst[x*n+y] = c
		}
	}
}

// run is a stretch of equal modules along a row or column.
type run struct {
	start, len int
	dark       bool
}

// appendRuns appends the runs of line to dst; mark, if not nil, learns
// which run (counted from the first one appended) each module belongs to.
func appendRuns(dst []run, line []byte, mark []int32) []run {
	base := len(dst)
	for i, c := range line {
		d := c != 0
		if len(dst) == base || dst[len(dst)-1].dark != d {
			dst = append(dst, run{start: i, dark: d})
		}
		dst[len(dst)-1].len++
		if mark != nil {
			mark[i] = int32(len(dst) - 1 - base)
		}
	}
	return dst
}

// finderRuns reports whether dark run i with its two neighbours on each
// side looks like a finder pattern to a detector: 1:1:3:1:1 within ZXing's
// tolerance of half a module per run. Outside the matrix is light quiet
// zone, so a pattern needs its outer dark runs inside.
func finderRuns(runs []run, i int) bool {
	if i < 2 || i+2 >= len(runs) || !runs[i].dark {
		return false
	}
	a, b, c, d, e := runs[i-2].len, runs[i-1].len, runs[i].len, runs[i+1].len, runs[i+2].len
	ms := float64(a+b+c+d+e) / 7
	mv := ms / 2
	near := func(v int, want, tol float64) bool { diff := float64(v) - want; return diff < tol && diff > -tol }
	return near(a, ms, mv) && near(b, ms, mv) && near(c, 3*ms, 3*mv) && near(d, ms, mv) && near(e, ms, mv)
}

// linePenalty scores one row or column for rules 1 (runs of five or more)
// and 3 (finder-like 1:1:3:1:1 patterns next to four light modules).
func linePenalty(line []byte) int {
	p := 0
	run := 1
	for i := 1; i <= len(line); i++ {
		if i < len(line) && line[i] == line[i-1] {
			run++
			continue
		}
		if run >= 5 {
			p += 3 + run - 5
		}
		run = 1
	}
	// Rule 3: slide a 7-module window over the line as a bit pattern.
	const finder = 0b1011101
	win := 0
	for i, c := range line {
		win = (win<<1 | int(c)) & 0x7f
		if i < 6 || win != finder {
			continue
		}
		start := i - 6
		if lightRun(line, start-4, start) || lightRun(line, i+1, i+5) {
			p += 40
		}
	}
	return p
}

// lightRun reports whether line[from:to] is light, counting modules beyond
// the edges (the quiet zone) as light.
func lightRun(line []byte, from, to int) bool {
	for i := max(from, 0); i < min(to, len(line)); i++ {
		if line[i] != 0 {
			return false
		}
	}
	return true
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
