package serializer

import (
	"bytes"
	"encoding/xml"
	"fmt"

	"github.com/kete-dev/kete"
)

// XML writes an event as an XML document with the JSON serializer's fields as elements:
// root <event> for a user event, <adminEvent> for an admin event. XML 1.0 cannot carry
// control characters other than tab, newline and carriage return; like invalid UTF-8,
// they are written as U+FFFD.
type XML struct{}

// ContentType is application/xml.
func (XML) ContentType() string { return "application/xml" }

// Serialize appends e as an XML document, with its declaration, to dst.
func (XML) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(buf).Encode(document(e)); err != nil {
		return dst, fmt.Errorf("xml: event %s: %w", e.ID, err)
	}
	return buf.Bytes(), nil
}
