package qr

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"io"
	"sync"
)

// writePNG encodes a paletted image as an indexed-colour PNG with the
// smallest bit depth that holds its palette (1 bit for a plain black and
// white code).
//
// Rows that repeat the row above, which is most of them since every module
// is px rows tall, are written with the Up filter, i.e. as zeros; the others
// are unfiltered. That makes deflate's job trivial: at BestSpeed a 2000 px
// branded code compresses in a few milliseconds to about 30 KB, where
// image/png (no filters for palette images, and a per-pixel ColorIndexAt
// for depths below 8 bits) takes longer and writes twice as much.
//
// pool, if not nil, supplies a zlib writer (reset onto the IDAT buffer) and
// takes it back when the image is written; nil means a new writer at level.
func writePNG(img *image.Paletted, level int, pool *zlibPool) ([]byte, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if w <= 0 || h <= 0 || len(img.Palette) == 0 || len(img.Palette) > 256 {
		return nil, fmt.Errorf("qr: cannot encode a %dx%d image with %d colours", w, h, len(img.Palette))
	}
	depth := 8
	switch n := len(img.Palette); {
	case n <= 2:
		depth = 1
	case n <= 4:
		depth = 2
	case n <= 16:
		depth = 4
	}

	var out bytes.Buffer
	out.Grow(1024 + w*h*depth/8/16)
	out.WriteString("\x89PNG\r\n\x1a\n")

	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8] = byte(depth)
	ihdr[9] = 3 // indexed colour
	// compression, filter and interlace methods: 0
	writeChunk(&out, "IHDR", ihdr[:])

	plte := make([]byte, 0, 3*len(img.Palette))
	for _, c := range img.Palette {
		r, g, b, a := c.RGBA()
		if a != 0xffff {
			return nil, fmt.Errorf("qr: palette colour %v is not opaque", c)
		}
		plte = append(plte, byte(r>>8), byte(g>>8), byte(b>>8))
	}
	writeChunk(&out, "PLTE", plte)

	var idat bytes.Buffer
	zw, err := pool.get(&idat, level)
	if err != nil {
		return nil, fmt.Errorf("qr: zlib: %w", err)
	}
	stride := (w*depth + 7) / 8
	row := make([]byte, 1+stride) // row[0] is the filter type: none
	up := make([]byte, 1+stride)  // a row identical to the one above: filter Up, all zeros
	up[0] = 2
	var prev []byte
	z := zw.w
	for y := 0; y < h; y++ {
		src := img.Pix[y*img.Stride:][:w]
		out := row
		// Most rows repeat the one above (each module is px rows tall).
		if prev != nil && bytes.Equal(src, prev) {
			out = up
		} else {
			packRow(row[1:], src, depth)
			prev = src
		}
		if _, err := z.Write(out); err != nil {
			return nil, fmt.Errorf("qr: compress: %w", err)
		}
	}
	if err := z.Close(); err != nil {
		return nil, fmt.Errorf("qr: compress: %w", err)
	}
	zw.put()
	writeChunk(&out, "IDAT", idat.Bytes())
	writeChunk(&out, "IEND", nil)
	return out.Bytes(), nil
}

// packRow packs palette indices of depth bits, leftmost pixel in the most
// significant bits.
func packRow(dst, src []byte, depth int) {
	switch depth {
	case 8:
		copy(dst, src)
		return
	case 1:
		full := len(src) / 8
		for i := 0; i < full; i++ {
			s := src[8*i : 8*i+8]
			dst[i] = s[0]<<7 | s[1]<<6 | s[2]<<5 | s[3]<<4 | s[4]<<3 | s[5]<<2 | s[6]<<1 | s[7]
		}
		if full < len(dst) {
			dst[full] = 0
			for j, v := range src[8*full:] {
				dst[full] |= v << uint(7-j)
			}
		}
		return
	}
	clear(dst)
	perByte := 8 / depth
	for i, v := range src {
		dst[i/perByte] |= v << uint(8-depth*(i%perByte+1))
	}
}

func writeChunk(out *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	out.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	out.WriteString(typ)
	out.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	out.Write(n[:])
}

// zlibPool lends zlib writers of one level: a writer holds about 1 MB of
// compressor state, which is worth reusing between renders. A nil
// *zlibPool lends fresh writers.
type zlibPool struct {
	level int
	pool  sync.Pool // of *zlib.Writer
}

// zlibLoan is a writer on loan from a pool.
type zlibLoan struct {
	w    *zlib.Writer
	pool *zlibPool
}

// get returns a writer compressing into dst.
func (p *zlibPool) get(dst io.Writer, level int) (zlibLoan, error) {
	if p != nil && p.level == level {
		if w, ok := p.pool.Get().(*zlib.Writer); ok {
			w.Reset(dst)
			return zlibLoan{w, p}, nil
		}
	}
	w, err := zlib.NewWriterLevel(dst, level)
	if err != nil {
		return zlibLoan{}, err
	}
	if p != nil && p.level != level {
		p = nil
	}
	return zlibLoan{w, p}, nil
}

// put returns a closed writer to its pool.
func (l zlibLoan) put() {
	if l.pool != nil {
		l.w.Reset(io.Discard) // drop the reference to the caller's buffer
		l.pool.pool.Put(l.w)
	}
}
