package server

import (
	"bytes"
	"compress/flate"
	"net/http"
	"strings"
	"sync"

	"github.com/lxzan/gws"
)

// permessage-deflate (RFC 7692) for messages published with compress:true.
//
// A client connection that offers permessage-deflate gets it, without context takeover
// either way, so that each message compresses on its own: a compress:true message is
// deflated once, after its frame was built, and that one compressed frame goes to every
// subscriber that negotiated the extension (as gws's Broadcaster shares one compressed
// frame). Subscribers that did not get the same message as an uncompressed binary frame,
// as before. Messages without compress:true are never compressed, and their path through
// the dispatcher does not change: only a run of messages holding a compressed one looks
// at who negotiated what.

// deflateOption is the upgraders' permessage-deflate: no context takeover (one
// compressed frame serves every subscriber), a small pool of gws's (de)compressors for
// the client frames browsers compress.
var deflateOption = gws.PermessageDeflate{
	Enabled:               true,
	ServerContextTakeover: false,
	ClientContextTakeover: false,
	PoolSize:              4,
}

// offersDeflate reports whether r offers permessage-deflate: gws's own test when it
// negotiates (Upgrader.getPermessageDeflate), so that the connection knows what gws
// answered.
func offersDeflate(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
}

// deflaters are flate writers at gws's default level (BestSpeed); each is large
// (hundreds of KiB), so they are pooled, not made per message.
var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// deflateFrame returns frame (an unmasked server frame built by frameBuilder) with its
// payload deflated and RSV1 set, as RFC 7692 §7.2.1 says: the DEFLATE stream flushed,
// its final empty stored block (0x00 0x00 0xff 0xff) removed.
func deflateFrame(frame []byte) []byte {
	payload := framePayload(frame)
	var buf bytes.Buffer
	buf.Grow(len(payload)/2 + 16)
	w := deflaters.Get().(*flate.Writer)
	w.Reset(&buf)
	_, _ = w.Write(payload) // a bytes.Buffer does not fail
	_ = w.Flush()
	deflaters.Put(w)
	out := bytes.TrimSuffix(buf.Bytes(), []byte{0x00, 0x00, 0xff, 0xff})
	f := newFrameBuilder(len(out))
	f.b = append(f.b, out...)
	d := f.finish(frame[0] & 0x0F)
	d[0] |= 0x40 // RSV1: this message is compressed
	return d
}

// framePayload is the payload of an unmasked frame built by frameBuilder.
func framePayload(frame []byte) []byte {
	switch frame[1] & 0x7F {
	case 126:
		return frame[4:]
	case 127:
		return frame[10:]
	default:
		return frame[2:]
	}
}

// compressedRun reports whether run holds a compress:true message and subs a subscriber
// that negotiated permessage-deflate: only then does the run take fanoutDeflate's way.
func compressedRun(run []queued, subs []*conn) bool {
	binary := false
	for i := range run {
		if run[i].msg.Binary {
			binary = true
			break
		}
	}
	if !binary {
		return false
	}
	for _, c := range subs {
		if c.deflate {
			return true
		}
	}
	return false
}

// fanoutDeflate delivers run as dispatch does, in buffers of whole frames of at most
// limit bytes, one write per subscriber per buffer, but with two buffers: one of the
// frames as they are, for subscribers without permessage-deflate, and one in which each
// compress:true frame is deflated, for those with it. Each fanout returns once its
// writes are made or queued, so every subscriber gets the run in order. It returns the
// bytes of the run's uncompressed frames, as the metrics count them.
func (p *fanoutPool) fanoutDeflate(run []queued, subs []*conn, limit int) int {
	var plain, deflating []*conn
	for _, c := range subs {
		if c.deflate {
			deflating = append(deflating, c)
		} else {
			plain = append(plain, c)
		}
	}
	total := 0
	var bufPlain, bufDeflate []byte
	flush := func() {
		if len(bufPlain) == 0 {
			return
		}
		if len(plain) > 0 {
			p.fanout(bufPlain, plain)
		}
		p.fanout(bufDeflate, deflating)
		bufPlain, bufDeflate = nil, nil // the fanned-out buffers may still be queued
	}
	for _, q := range run {
		total += len(q.frame)
		d := q.frame
		if q.msg.Binary {
			d = deflateFrame(q.frame)
		}
		if len(bufPlain) > 0 && (len(bufPlain)+len(q.frame) > limit || len(bufDeflate)+len(d) > limit) {
			flush()
		}
		bufPlain = append(bufPlain, q.frame...)
		bufDeflate = append(bufDeflate, d...)
	}
	flush()
	return total
}
