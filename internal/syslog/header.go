package syslog

import (
	"bytes"
	"time"
)

// HeaderFormat says which syslog header a message had.
type HeaderFormat string

// Header formats returned by ParseHeader.
const (
	// HeaderRFC5424 is "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]".
	HeaderRFC5424 HeaderFormat = "rfc5424"
	// HeaderRFC3164 is "<PRI>Mmm dd hh:mm:ss HOST TAG: MSG" (BSD syslog), also with an RFC 3339 timestamp
	// in place of the BSD one (rsyslog's forwarding format).
	HeaderRFC3164 HeaderFormat = "rfc3164"
	// HeaderPRI is a valid "<PRI>" followed by text that does not start like a header: the text is the MSG.
	HeaderPRI HeaderFormat = "pri"
	// HeaderNone is a message without a header, or with a malformed one: the whole message is the MSG.
	HeaderNone HeaderFormat = "none"
)

// Header is what ParseHeader read from a syslog message. Fields a format does not carry, or that were "-"
// (RFC 5424's nil value), are empty.
type Header struct {
	// Format is the header format found.
	Format HeaderFormat
	// Priority is the PRI value (facility*8 + severity), or -1 when the message has none.
	Priority int
	// Timestamp is the header's time; zero when absent. RFC 3164 times, which carry neither year nor zone, are
	// read as UTC in the year that puts them closest before the clock (at most a day ahead of it).
	Timestamp time.Time
	// Hostname, AppName, ProcID and MsgID are RFC 5424's fields; RFC 3164's TAG is AppName and its "[pid]"
	// ProcID.
	Hostname, AppName, ProcID, MsgID string
	// StructuredData is RFC 5424's STRUCTURED-DATA as sent ("[id k=\"v\"]…"), empty for "-".
	StructuredData string
	// Msg is the MSG part, a sub-slice of the input without a leading UTF-8 BOM; the whole input when Format is
	// HeaderNone.
	Msg []byte
}

// Facility is the facility of the priority (-1 without one).
func (h Header) Facility() int {
	if h.Priority < 0 {
		return -1
	}
	return h.Priority / 8
}

// Severity is the severity of the priority (-1 without one).
func (h Header) Severity() int {
	if h.Priority < 0 {
		return -1
	}
	return h.Priority % 8
}

var bom = []byte("\xef\xbb\xbf")

// ParseHeader reads the syslog header of one message (already framed, without a trailing newline): RFC 5424,
// RFC 3164, a bare "<PRI>", or none. A header that starts like RFC 5424 or RFC 3164 but breaks their grammar
// (bad timestamp, missing field, unterminated structured data) is no header: the whole message is the MSG, so
// nothing is lost and the MSG reader decides what the text is. now is the clock used for the year of RFC 3164
// times.
func ParseHeader(msg []byte, now time.Time) Header {
	none := Header{Format: HeaderNone, Priority: -1, Msg: msg}
	pri, rest, ok := parsePRI(msg)
	if !ok {
		return none
	}
	if len(rest) == 0 {
		return Header{Format: HeaderPRI, Priority: pri, Msg: rest}
	}
	switch {
	case rest[0] >= '1' && rest[0] <= '9' && versionEnd(rest) > 0:
		if h, ok := parse5424(rest); ok {
			h.Priority = pri
			return h
		}
		return none
	case startsRFC3339(rest) || startsBSDTime(rest): // "<PRI>2021-02-17T10:25:00Z host tag: msg" too
		if h, ok := parse3164(rest, now); ok {
			h.Priority = pri
			return h
		}
		return none
	}
	return Header{Format: HeaderPRI, Priority: pri, Msg: bytes.TrimPrefix(rest, bom)}
}

// parsePRI reads "<0>" to "<191>" (no leading zeros but for 0 itself).
func parsePRI(b []byte) (int, []byte, bool) {
	if len(b) < 3 || b[0] != '<' {
		return 0, nil, false
	}
	v, i := 0, 1
	for ; i < len(b) && i <= 4 && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + int(b[i]-'0')
	}
	digits := i - 1
	if digits == 0 || digits > 3 || i >= len(b) || b[i] != '>' || v > 191 || (digits > 1 && b[1] == '0') {
		return 0, nil, false
	}
	return v, b[i+1:], true
}

// versionEnd returns the length of an RFC 5424 VERSION ("1" to "999") followed by a space, or 0.
func versionEnd(b []byte) int {
	i := 0
	for i < len(b) && i < 3 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(b) || b[i] != ' ' {
		return 0
	}
	return i
}

// field cuts the next space-terminated token (1..max printable US-ASCII characters). last allows the token to
// end the input.
func field(b []byte, max int, last bool) (tok, rest []byte, ok bool) {
	i := 0
	for i < len(b) && b[i] != ' ' {
		if b[i] < 33 || b[i] > 126 {
			return nil, nil, false
		}
		i++
	}
	if i == 0 || i > max {
		return nil, nil, false
	}
	if i == len(b) {
		if !last {
			return nil, nil, false
		}
		return b, nil, true
	}
	return b[:i], b[i+1:], true
}

func nilValue(b []byte) string {
	if string(b) == "-" {
		return ""
	}
	return string(b)
}

// parse5424 reads what follows PRI in an RFC 5424 message.
func parse5424(b []byte) (Header, bool) {
	h := Header{Format: HeaderRFC5424}
	b = b[versionEnd(b)+1:]
	ts, b, ok := field(b, 64, false)
	if !ok {
		return h, false
	}
	if string(ts) != "-" {
		t, err := time.Parse(time.RFC3339Nano, string(ts))
		if err != nil {
			return h, false
		}
		h.Timestamp = t
	}
	var host, app, proc, id []byte
	if host, b, ok = field(b, 255, false); !ok {
		return h, false
	}
	if app, b, ok = field(b, 48, false); !ok {
		return h, false
	}
	if proc, b, ok = field(b, 128, false); !ok {
		return h, false
	}
	if id, b, ok = field(b, 32, false); !ok {
		return h, false
	}
	h.Hostname, h.AppName, h.ProcID, h.MsgID = nilValue(host), nilValue(app), nilValue(proc), nilValue(id)
	n, ok := structuredData(b)
	if !ok {
		return h, false
	}
	if sd := string(b[:n]); sd != "-" {
		h.StructuredData = sd
	}
	b = b[n:]
	switch {
	case len(b) == 0:
		h.Msg = b
	case b[0] == ' ':
		h.Msg = bytes.TrimPrefix(b[1:], bom)
	default:
		return h, false
	}
	return h, true
}

// structuredData returns the length of the STRUCTURED-DATA at the start of b: "-" or one or more
// "[SD-ID *(SP NAME="VALUE")]" elements, where VALUE escapes '"', '\' and ']' with a backslash.
func structuredData(b []byte) (int, bool) {
	if len(b) > 0 && b[0] == '-' {
		return 1, len(b) == 1 || b[1] == ' '
	}
	i := 0
	for i < len(b) && b[i] == '[' {
		n, ok := sdElement(b[i:])
		if !ok {
			return 0, false
		}
		i += n
	}
	return i, i > 0 && (i == len(b) || b[i] == ' ')
}

// sdName reads an SD-ID or PARAM-NAME: 1..32 printable US-ASCII characters other than '=', ' ', ']' and '"'.
func sdName(b []byte) int {
	i := 0
	for i < len(b) && i <= 32 && b[i] > 32 && b[i] < 127 && b[i] != '=' && b[i] != ']' && b[i] != '"' {
		i++
	}
	if i > 32 {
		return 0
	}
	return i
}

// sdElement returns the length of the SD-ELEMENT starting at b[0] == '['.
func sdElement(b []byte) (int, bool) {
	i := 1
	n := sdName(b[i:])
	if n == 0 {
		return 0, false
	}
	i += n
	for {
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ']':
			return i + 1, true
		case ' ':
			i++
		default:
			return 0, false
		}
		n := sdName(b[i:])
		if n == 0 || i+n+1 >= len(b) || b[i+n] != '=' || b[i+n+1] != '"' {
			return 0, false
		}
		i += n + 2
		for {
			if i >= len(b) {
				return 0, false
			}
			if b[i] == '\\' && i+1 < len(b) {
				i += 2
				continue
			}
			if b[i] == '"' {
				i++
				break
			}
			i++
		}
	}
}

var months = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// startsRFC3339 tells whether b starts with "YYYY-", like an RFC 3339 timestamp.
func startsRFC3339(b []byte) bool {
	if len(b) < 5 || b[4] != '-' {
		return false
	}
	for _, c := range b[:4] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// startsBSDTime tells whether b starts with a month abbreviation and a space, like an RFC 3164 TIMESTAMP.
func startsBSDTime(b []byte) bool {
	if len(b) < 4 || b[3] != ' ' {
		return false
	}
	for _, m := range months {
		if string(b[:3]) == m {
			return true
		}
	}
	return false
}

// bsdTime reads "Mmm dd hh:mm:ss" (day space- or zero-padded) as UTC in the year closest before now.
func bsdTime(b []byte, now time.Time) (time.Time, bool) {
	if len(b) < 15 {
		return time.Time{}, false
	}
	s := string(b[:15])
	if s[4] == ' ' {
		s = s[:4] + "0" + s[5:]
	}
	t, err := time.Parse("Jan 02 15:04:05", s)
	if err != nil {
		return time.Time{}, false
	}
	now = now.UTC()
	for _, year := range []int{now.Year() + 1, now.Year(), now.Year() - 1} {
		c := time.Date(year, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
		if c.Month() != t.Month() { // Feb 29 outside a leap year
			continue
		}
		if !c.After(now.Add(24 * time.Hour)) {
			return c, true
		}
	}
	return time.Time{}, false
}

// parse3164 reads what follows PRI in an RFC 3164 message: TIMESTAMP SP HOSTNAME SP [TAG["[" PID "]"]":" SP] MSG.
// A message whose first token after the time is already a TAG (no hostname) is read too.
func parse3164(b []byte, now time.Time) (Header, bool) {
	h := Header{Format: HeaderRFC3164}
	if startsBSDTime(b) {
		t, ok := bsdTime(b, now)
		if !ok || len(b) < 16 || b[15] != ' ' {
			return h, false
		}
		h.Timestamp, b = t, b[16:]
	} else {
		ts, rest, ok := field(b, 64, false)
		if !ok {
			return h, false
		}
		t, err := time.Parse(time.RFC3339Nano, string(ts))
		if err != nil {
			return h, false
		}
		h.Timestamp, b = t, rest
	}
	if app, proc, rest, ok := tag(b); ok { // no hostname
		h.AppName, h.ProcID, h.Msg = app, proc, bytes.TrimPrefix(rest, bom)
		return h, true
	}
	host, rest, ok := field(b, 255, true)
	if !ok {
		return h, false
	}
	h.Hostname = string(host)
	if app, proc, after, ok := tag(rest); ok {
		h.AppName, h.ProcID, rest = app, proc, after
	}
	h.Msg = bytes.TrimPrefix(rest, bom)
	return h, true
}

// tag reads "TAG: " or "TAG[PID]: " (TAG of 1..48 letters, digits and "_-./"); the colon must be followed by a
// space or end the input, so "CEF:0|…" is no tag.
func tag(b []byte) (app, proc string, rest []byte, ok bool) {
	i := 0
	for i < len(b) && i <= 48 && isTagChar(b[i]) {
		i++
	}
	if i == 0 || i > 48 || i >= len(b) {
		return "", "", nil, false
	}
	app = string(b[:i])
	if b[i] == '[' {
		j := bytes.IndexByte(b[i:], ']')
		if j < 2 || j > 129 {
			return "", "", nil, false
		}
		proc = string(b[i+1 : i+j])
		i += j + 1
	}
	if i >= len(b) || b[i] != ':' {
		return "", "", nil, false
	}
	i++
	switch {
	case i == len(b):
		return app, proc, b[i:], true
	case b[i] == ' ':
		return app, proc, b[i+1:], true
	}
	return "", "", nil, false
}

func isTagChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/'
}
