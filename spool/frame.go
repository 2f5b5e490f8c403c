package spool

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// The record framing. See the package doc for the layout and why it is so.
const (
	frameHeader   = 20 // magic, offset, length, CRC
	frameHeaderV1 = 8  // length, CRC (segments written before kete had the magic)
	// MaxRecordBytes bounds one record so a corrupt length cannot make a reader allocate
	// gigabytes.
	MaxRecordBytes = 16 << 20
	readChunk      = 64 << 10
)

// frameMagic starts every record. 0xF5 never occurs in UTF-8, so it is not found inside
// a JSON event, and a reader looking for the next record after damage finds few false
// starts (each of which its CRC then refuses).
var frameMagic = [4]byte{0xF5, 'k', 'r', 0x02}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends one record at offset off.
func appendFrame(buf []byte, off uint64, data []byte) []byte {
	start := len(buf)
	buf = append(buf, frameMagic[:]...)
	buf = binary.LittleEndian.AppendUint64(buf, off)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(data)))
	sum := crc32.Update(0, castagnoli, buf[start+4:start+16])
	sum = crc32.Update(sum, castagnoli, data)
	buf = binary.LittleEndian.AppendUint32(buf, sum)
	return append(buf, data...)
}

// frame is one intact record found in a segment.
type frame struct {
	off  uint64
	data []byte // valid until the scanner's next call
	pos  int64  // byte position of its first byte
	end  int64  // byte position after it
}

// found is what scan passed over to reach the next intact record, or the end.
type found struct {
	frame
	eof bool // no intact record before the limit; frame is unset
	// badFrom..badTo are bytes that hold no intact record (damage, or a torn tail).
	badFrom, badTo int64
	// lostFrom..lostTo are the offsets that were expected here and not found intact. At the
	// end of the data lostTo is unknown and equals lostFrom.
	lostFrom, lostTo uint64
	// complete: the first bad record is whole by its length (a checksum failure, not an
	// unfinished write).
	complete bool
}

func (f found) bad() bool { return f.badTo > f.badFrom }

// scanner reads a segment's records in order from a byte position up to a limit,
// stepping over damaged bytes to the next intact record. It reads through ReadAt with
// its own buffer, so that it can step back after a false start, and never caches bytes
// past the limit (bytes beyond what is durable may still be rolled back).
type scanner struct {
	f     io.ReaderAt
	v1    bool
	pos   int64  // byte position of the next record
	next  uint64 // offset the next record should have
	limit int64  // bytes at and after limit are not read
	buf   []byte
	bufAt int64
}

func newScanner(f io.ReaderAt, v1 bool, base uint64, limit int64) *scanner {
	return &scanner{f: f, v1: v1, next: base, limit: limit}
}

// window returns the n bytes at pos, or fewer where the limit or the file ends first.
func (sc *scanner) window(pos int64, n int) ([]byte, error) {
	if pos >= sc.limit {
		return nil, nil
	}
	n = int(min(int64(n), sc.limit-pos))
	if pos >= sc.bufAt && pos+int64(n) <= sc.bufAt+int64(len(sc.buf)) {
		return sc.buf[pos-sc.bufAt:][:n], nil
	}
	size := int(min(int64(max(n, readChunk)), sc.limit-pos))
	if cap(sc.buf) < size {
		sc.buf = make([]byte, size)
	}
	sc.buf = sc.buf[:size]
	m, err := sc.f.ReadAt(sc.buf, pos)
	sc.buf, sc.bufAt = sc.buf[:m], pos
	if m < n && err != nil && err != io.EOF {
		sc.buf = sc.buf[:0]
		return nil, err
	}
	return sc.buf[:min(n, m)], nil
}

// frame states
const (
	frameOK = iota
	frameShort
	frameBad
)

// frameAt decodes the record at p.
func (sc *scanner) frameAt(p int64) (frame, int, error) {
	hs := frameHeader
	if sc.v1 {
		hs = frameHeaderV1
	}
	h, err := sc.window(p, hs)
	if err != nil {
		return frame{}, 0, err
	}
	if len(h) < hs {
		return frame{}, frameShort, nil
	}
	var off uint64
	var n, sum uint32
	if sc.v1 {
		off, n, sum = sc.next, binary.LittleEndian.Uint32(h[0:4]), binary.LittleEndian.Uint32(h[4:8])
	} else {
		if !bytes.Equal(h[0:4], frameMagic[:]) {
			return frame{}, frameBad, nil
		}
		off, n, sum = binary.LittleEndian.Uint64(h[4:12]), binary.LittleEndian.Uint32(h[12:16]), binary.LittleEndian.Uint32(h[16:20])
	}
	if n > MaxRecordBytes {
		return frame{}, frameBad, nil
	}
	var crc uint32
	if !sc.v1 {
		crc = crc32.Update(0, castagnoli, h[4:16])
	}
	whole, err := sc.window(p, hs+int(n))
	if err != nil {
		return frame{}, 0, err
	}
	if len(whole) < hs+int(n) {
		return frame{}, frameShort, nil
	}
	data := whole[hs:]
	if crc32.Update(crc, castagnoli, data) != sum {
		return frame{}, frameBad, nil
	}
	return frame{off: off, data: data, pos: p, end: p + int64(hs) + int64(n)}, frameOK, nil
}

// findMagic returns the position of the next magic at or after p, or -1 and the end of
// the data.
func (sc *scanner) findMagic(p int64) (int64, int64, error) {
	for {
		w, err := sc.window(p, readChunk)
		if err != nil {
			return 0, 0, err
		}
		if i := bytes.Index(w, frameMagic[:]); i >= 0 {
			return p + int64(i), 0, nil
		}
		if len(w) < len(frameMagic) {
			return -1, p + int64(len(w)), nil
		}
		p += int64(len(w) - len(frameMagic) + 1)
	}
}

// scan returns the next intact record at or after the scanner's position, with the
// damaged bytes passed over to reach it; at the end it returns eof, with any trailing
// bytes that hold no intact record. A record is intact when its magic, length and
// checksum agree and its offset is not below the one expected. Old (v1) segments carry
// no magic: there the first bad record makes the rest of the segment bad.
func (sc *scanner) scan() (found, error) {
	start := sc.pos
	res := found{lostFrom: sc.next, lostTo: sc.next, badFrom: start, badTo: start}
	p := start
	first := true
	for {
		fr, state, err := sc.frameAt(p)
		if err != nil {
			return found{}, err
		}
		if state == frameOK && fr.off >= sc.next {
			res.frame, res.badTo, res.lostTo = fr, p, fr.off
			sc.pos, sc.next = fr.end, fr.off+1
			return res, nil
		}
		if first {
			first = false
			res.complete = state == frameBad
			if state == frameShort {
				if w, _ := sc.window(p, 1); len(w) == 0 {
					return found{eof: true, lostFrom: sc.next, lostTo: sc.next, badFrom: p, badTo: p}, nil // the clean end
				}
			}
		}
		if sc.v1 {
			end := p
			for {
				w, err := sc.window(end, readChunk)
				if err != nil {
					return found{}, err
				}
				if len(w) == 0 {
					break
				}
				end += int64(len(w))
			}
			res.eof, res.badTo = true, end
			return res, nil
		}
		q, end, err := sc.findMagic(p + 1)
		if err != nil {
			return found{}, err
		}
		if q < 0 {
			res.eof, res.badTo = true, end
			return res, nil
		}
		p = q
	}
}
