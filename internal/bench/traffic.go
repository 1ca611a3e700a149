package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/castwatch/castwatch/internal/mimecast/sim"
)

// Sample sizes of the simulated tenant the benchmarks draw from by default. Generation is not measured but
// takes a while (about 50 µs per SIEM record), so larger inputs cycle through the sample, varying record ids.
const (
	DefaultMailboxes = 100
	DefaultDays      = 1
)

// trafficEpoch is the simulated tenant's clock: fixed, so that every run generates the same records.
var trafficEpoch = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

// Traffic is a deterministic sample of one simulated tenant's records that the benchmarks cycle through.
type Traffic struct {
	// SIEM are Cloud Gateway SIEM batch lines (Seg_Cg_CL), every type.
	SIEM []json.RawMessage
	// API are API records, one JSON object each: TTP URL, attachment and impersonation logs, DLP logs, audit
	// events.
	API []json.RawMessage
	// Legacy are legacy SIEM records (get-siem-logs) as key=value lines.
	Legacy [][]byte
	// Span is the whole number of days the sample covers; copies of the sample are shifted by it in time.
	Span time.Duration
}

// NewTraffic generates the records of a simulated tenant with the given mailboxes over the days before a fixed
// date.
func NewTraffic(ctx context.Context, mailboxes, days int) (*Traffic, error) {
	if mailboxes <= 0 || days <= 0 {
		return nil, fmt.Errorf("traffic: mailboxes and days must be positive, got %d and %d", mailboxes, days)
	}
	now := trafficEpoch
	s, err := sim.New(sim.Options{Seed: 1, Mailboxes: mailboxes, Days: days, Start: now,
		Now: func() time.Time { return now }, Wall: func() time.Time { return now }})
	if err != nil {
		return nil, fmt.Errorf("traffic: %w", err)
	}
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	t := &Traffic{Span: time.Duration(days) * 24 * time.Hour}
	for _, typ := range sim.SIEMTypes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		lines, err := s.SIEMEvents(typ, from, now)
		if err != nil {
			return nil, fmt.Errorf("traffic: siem %s: %w", typ, err)
		}
		t.SIEM = append(t.SIEM, lines...)
	}
	for _, path := range []string{sim.PathTTPURL, sim.PathTTPAttachment, sim.PathTTPImpersonation, sim.PathDLP} {
		recs, err := s.LogRecords(path, from, now)
		if err != nil {
			return nil, fmt.Errorf("traffic: %s: %w", path, err)
		}
		t.API = append(t.API, recs...)
	}
	for _, a := range s.AuditRecords(from, now) {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("traffic: audit record: %w", err)
		}
		t.API = append(t.API, b)
	}
	for _, f := range s.LegacySIEMFiles() {
		for _, l := range f.Lines() {
			t.Legacy = append(t.Legacy, []byte(l))
		}
	}
	if len(t.SIEM) == 0 || len(t.API) == 0 || len(t.Legacy) == 0 {
		return nil, fmt.Errorf("traffic: the simulator produced %d SIEM, %d API and %d legacy records; use more mailboxes or days",
			len(t.SIEM), len(t.API), len(t.Legacy))
	}
	return t, nil
}

// Input selects the simulated traffic a benchmark draws its input from.
type Input struct {
	// Traffic is the sample; nil generates one of Mailboxes and Days (0: DefaultMailboxes, DefaultDays). A sample
	// the benchmark generates itself is dropped before it measures, so its memory does not distort the figures.
	Traffic *Traffic
	// Mailboxes and Days size the generated sample.
	Mailboxes, Days int
}

// traffic returns the given sample or generates one.
func (in Input) traffic(ctx context.Context) (*Traffic, error) {
	if in.Traffic != nil {
		return in.Traffic, nil
	}
	mb, days := in.Mailboxes, in.Days
	if mb == 0 {
		mb = DefaultMailboxes
	}
	if days == 0 {
		days = DefaultDays
	}
	return NewTraffic(ctx, mb, days)
}

// copySuffix marks the c-th copy of a sample record; copy 0 is the record itself.
func copySuffix(c int) string { return "~" + strconv.Itoa(c) }

// SIEMLine returns the i-th of an endless sequence of SIEM lines: the sample's lines, and then copies whose
// processingId and aggregateId carry a copy suffix, so that every line is a distinct record (a distinct key).
func (t *Traffic) SIEMLine(i int) []byte {
	line, c := t.SIEM[i%len(t.SIEM)], i/len(t.SIEM)
	if c == 0 {
		return line
	}
	s := copySuffix(c)
	out := withSuffix(line, "processingId", s)
	return withSuffix(out, "aggregateId", s)
}

// APILine returns the i-th of an endless sequence of API record lines; copies carry a suffix on their id (or,
// for records without one, their messageId).
func (t *Traffic) APILine(i int) []byte {
	line, c := t.API[i%len(t.API)], i/len(t.API)
	if c == 0 {
		return line
	}
	s := copySuffix(c)
	if out := withSuffix(line, "id", s); len(out) != len(line) {
		return out
	}
	return withSuffix(line, "messageId", s)
}

// KVLine returns the i-th of an endless sequence of legacy SIEM key=value lines; copies carry a suffix on their
// aCode (or, for records without one, their MsgId).
func (t *Traffic) KVLine(i int) []byte {
	line, c := t.Legacy[i%len(t.Legacy)], i/len(t.Legacy)
	if c == 0 {
		return line
	}
	s := copySuffix(c)
	if out := withKVSuffix(line, "aCode", s); len(out) != len(line) {
		return out
	}
	return withKVSuffix(line, "MsgId", s)
}

// withKVSuffix returns line with suffix appended to the value of its key=value field key, or line itself when
// it has none.
func withKVSuffix(line []byte, key, suffix string) []byte {
	var at int
	switch {
	case bytes.HasPrefix(line, []byte(key+"=")):
		at = len(key) + 1
	default:
		i := bytes.Index(line, []byte("|"+key+"="))
		if i < 0 {
			return line
		}
		at = i + len(key) + 2
	}
	end := len(line)
	if j := bytes.IndexByte(line[at:], '|'); j >= 0 {
		end = at + j
	}
	return insertAt(line, end, suffix)
}

// withSuffix returns line with suffix appended to the string value of its first "field":"…" member, or line
// itself when it has none. The records come from encoding/json, so there is no space around the colon.
func withSuffix(line []byte, field, suffix string) []byte {
	key := []byte(`"` + field + `":"`)
	at := bytes.Index(line, key)
	if at < 0 {
		return line
	}
	start := at + len(key)
	end := start
	for end < len(line) && line[end] != '"' {
		if line[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(line) {
		return line
	}
	return insertAt(line, end, suffix)
}

// insertAt returns a copy of line with s inserted at position at.
func insertAt(line []byte, at int, s string) []byte {
	out := make([]byte, 0, len(line)+len(s))
	out = append(out, line[:at]...)
	out = append(out, s...)
	return append(out, line[at:]...)
}
