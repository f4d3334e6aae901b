package qr

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/boombuler/barcode"
	bqr "github.com/boombuler/barcode/qr"
)

// maxBytes is the byte-mode capacity of a version at a level.
func maxBytes(ver int, l eccLevel) int {
	count := 8
	if ver >= 10 {
		count = 16
	}
	return (dataCodewords(ver, l)*8 - 4 - count) / 8
}

// TestEncoderMatchesBoombuler checks the matrix encoder against
// github.com/boombuler/barcode/qr, an independent implementation: for every
// level and a spread of versions (filled to capacity, so the version is
// forced), one of our eight masks must reproduce boombuler's symbol module
// for module, format and version information included.
func TestEncoderMatchesBoombuler(t *testing.T) {
	t.Parallel()
	levels := []struct {
		ours eccLevel
		bb   bqr.ErrorCorrectionLevel
	}{{eccL, bqr.L}, {eccM, bqr.M}, {eccQ, bqr.Q}, {eccH, bqr.H}}
	versions := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 16, 20, 27, 32, 40}
	if testing.Short() {
		versions = versions[:10]
	}
	for _, lv := range levels {
		for _, ver := range versions {
			n := maxBytes(ver, lv.ours)
			data := payloadOfLen(n, ver)
			t.Run(fmt.Sprintf("%s/v%d", lv.ours, ver), func(t *testing.T) {
				bc, err := bqr.Encode(data, lv.bb, bqr.Unicode)
				if err != nil {
					t.Fatalf("boombuler: %v", err)
				}
				size := bc.Bounds().Dx()
				if want := 4*ver + 17; size != want {
					t.Fatalf("boombuler chose %d modules, want %d (version %d)", size, want, ver)
				}
				matched := -1
				for k := 0; k < 8; k++ {
					m, err := encodeQR([]byte(data), lv.ours, false, k)
					if err != nil {
						t.Fatal(err)
					}
					if m.version != ver || m.level != lv.ours {
						t.Fatalf("got version %d level %s, want %d %s", m.version, m.level, ver, lv.ours)
					}
					if sameModules(m, bc) {
						matched = k
						break
					}
				}
				if matched < 0 {
					t.Fatalf("no mask reproduces boombuler's %d-byte symbol", n)
				}
				// One byte more must not fit in the same version.
				if m, err := encodeQR([]byte(data+"x"), lv.ours, false, autoMask); err == nil && m.version == ver {
					t.Errorf("%d bytes still fit in version %d", n+1, ver)
				}
			})
		}
	}
}

func payloadOfLen(n, seed int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789:/?=&.-_"
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(alphabet[(i*7+seed*13)%len(alphabet)])
	}
	return b.String()
}

func sameModules(m *qrMatrix, bc barcode.Barcode) bool {
	b := bc.Bounds()
	if b.Dx() != m.size || b.Dy() != m.size {
		return false
	}
	for y := 0; y < m.size; y++ {
		for x := 0; x < m.size; x++ {
			r, _, _, _ := bc.At(b.Min.X+x, b.Min.Y+y).RGBA()
			if (r < 0x8000) != m.dark(x, y) {
				return false
			}
		}
	}
	return true
}

func TestEncoderAutoMaskAndBoost(t *testing.T) {
	t.Parallel()
	m, err := encodeQR([]byte("https://paytest.bitnovo.com/ab12cd34/"), eccM, true, autoMask)
	if err != nil {
		t.Fatal(err)
	}
	if m.mask < 0 || m.mask > 7 {
		t.Errorf("mask = %d", m.mask)
	}
	if m.level < eccM {
		t.Errorf("boosted level %s below M", m.level)
	}
	noBoost, err := encodeQR([]byte("https://paytest.bitnovo.com/ab12cd34/"), eccM, false, autoMask)
	if err != nil {
		t.Fatal(err)
	}
	if noBoost.version != m.version {
		t.Errorf("boost changed the version: %d -> %d", noBoost.version, m.version)
	}
	if m.level < eccH && byteModeBits(m.version, 37) <= dataCodewords(m.version, m.level+1)*8 {
		t.Errorf("level %s not boosted although %s fits", m.level, m.level+1)
	}

	if _, err := encodeQR(make([]byte, maxBytes(40, eccH)), eccH, false, autoMask); err != nil {
		t.Errorf("capacity of v40-H rejected: %v", err)
	}
	if _, err := encodeQR(make([]byte, maxBytes(40, eccH)+1), eccH, false, autoMask); !errors.Is(err, ErrDataTooLong) {
		t.Errorf("v40-H capacity + 1: err = %v, want ErrDataTooLong", err)
	}
}
