package serializer

import (
	"slices"
	"strconv"
	"strings"

	"github.com/kete-dev/kete"
)

// CSV writes an event as KETE's CsvSerializer does (Jackson's CsvMapper with a header,
// docs/user-guide/serializers/csv.md): a header line of every property in alphabetical
// order, then one line of values, each line ending in "\n"; null is an empty cell.
//
// CSV has no place for nested objects: Jackson fails on a non-null details or
// authDetails, and KETE's documentation shows those cells empty. kete writes them empty
// rather than fail; use another kind to carry them.
//
// A cell is quoted, with quotes doubled, when it holds a comma, a quote, a line break or
// starts with "#", as KETE's documented output shows (Jackson's strict quoting).
type CSV struct{}

// ContentType is text/csv.
func (CSV) ContentType() string { return "text/csv" }

// AlwaysUTF8 implements kete.UTF8Serializer: every string is made valid UTF-8 first.
func (CSV) AlwaysUTF8() {}

// Serialize appends e as a header line and a value line to dst.
func (CSV) Serialize(dst []byte, e *kete.Event) ([]byte, error) {
	nodes := shape(e)
	slices.SortFunc(nodes, func(a, b node) int { return strings.Compare(a.name, b.name) })
	for i, n := range nodes {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, n.name...)
	}
	dst = append(dst, '\n')
	for i, n := range nodes {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch n.kind {
		case stringValue:
			dst = appendCSVCell(dst, n.str)
		case longValue:
			dst = strconv.AppendInt(dst, n.num, 10)
		}
	}
	return append(dst, '\n'), nil
}

func appendCSVCell(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") && !strings.HasPrefix(s, "#") {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	dst = append(dst, strings.ReplaceAll(s, `"`, `""`)...)
	return append(dst, '"')
}
