package serializer

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/kete-dev/kete"
)

// YAML writes an event as a YAML mapping with the JSON serializer's fields, in its order;
// invalid UTF-8 becomes U+FFFD, as in JSON, rather than a !!binary value.
type YAML struct{}

// ContentType is application/yaml.
func (YAML) ContentType() string { return "application/yaml" }

// Serialize appends e as a YAML document to dst.
func (YAML) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	out, err := yaml.Marshal(document(e))
	if err != nil {
		return dst, fmt.Errorf("yaml: event %s: %w", e.ID, err)
	}
	return append(dst, out...), nil
}
