package schema

import (
	"fmt"
	"strings"
	"time"
)

// mimecastLayouts are the date styles the Mimecast APIs use (spec mimecast-api §6.1), most common first.
var mimecastLayouts = []string{
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.000-0700",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.9999999-07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// ParseTime parses a Mimecast timestamp in any of its documented styles and returns it in UTC.
// Values without a zone are taken as UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	for _, l := range mimecastLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.IsZero() { // 0001-01-01T00:00:00Z is Go's "no time", never an event time
				return time.Time{}, fmt.Errorf("zero time %q", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised time %q", s)
}

// FormatAPITime formats t the way the Mimecast /api functions document it: ISO 8601 with a colon-less offset.
func FormatAPITime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-0700") }
