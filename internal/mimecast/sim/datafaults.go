package sim

import (
	"encoding/json"
	"fmt"
	"time"
)

// PathAuditEvents is the audit function.
const PathAuditEvents = "/api/audit/get-audit-events"

// recordTimeFields names the time field of each /api function's records: badjson writes an impossible date there,
// which the decoders reject.
var recordTimeFields = map[string]string{
	PathAuditEvents:      "eventTime",
	PathTTPURL:           "date",
	PathTTPAttachment:    "date",
	PathTTPImpersonation: "eventTime",
	PathDLP:              "eventTime",
	PathHeldRelease:      "released",
	PathArchiveSearch:    "createTime",
}

// badDate is the value badjson puts into a record's time field.
const badDate = "2026-02-30T25:61:00+0000"

// recordFate says whether a /api record is served twice (dupes) and followed by a malformed copy (badjson).
func (s *Sim) recordFate(path string, raw []byte) (dupe, bad bool) {
	if !s.opts.Faults.Dupes && !s.opts.Faults.BadJSON {
		return false, false
	}
	label := path + "|" + string(raw)
	dupe = s.opts.Faults.Dupes && unitFloat(s.opts.Seed, "dupe-record:"+label, 0) < dupeRecordRate
	bad = s.opts.Faults.BadJSON && unitFloat(s.opts.Seed, "bad-record:"+label, 0) < badRecordRate
	return dupe, bad
}

// malformedCopy returns raw with its time field replaced by an impossible date.
func malformedCopy(path string, raw []byte) json.RawMessage {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m[recordTimeFields[path]] = badDate
	out, _ := json.Marshal(m)
	return out
}

// decorate applies the data faults to a /api result set: some records twice in a row, some followed by a
// malformed copy. Without those faults it returns recs unchanged.
func (s *Sim) decorate(path string, recs []any) []any {
	if !s.opts.Faults.Dupes && !s.opts.Faults.BadJSON {
		return recs
	}
	out := make([]any, 0, len(recs)+len(recs)/10)
	for _, rec := range recs {
		raw, _ := json.Marshal(rec)
		dupe, bad := s.recordFate(path, raw)
		out = append(out, rec)
		if dupe {
			out = append(out, rec)
		}
		if bad {
			out = append(out, malformedCopy(path, raw))
		}
	}
	return out
}

// APITruth returns the ground truth of a /api log function (PathAuditEvents, the TTP and DLP functions,
// PathHeldRelease, PathArchiveSearch) over [from, to] as it exists now: the real records, those served twice
// under dupes, and the malformed copies served under badjson.
func (s *Sim) APITruth(path string, from, to time.Time) (Truth, error) {
	var real []json.RawMessage
	switch path {
	case PathAuditEvents:
		for _, r := range s.AuditRecords(from, to) {
			raw, _ := json.Marshal(r)
			real = append(real, raw)
		}
	default:
		var err error
		if real, err = s.LogRecords(path, from, to); err != nil {
			return Truth{}, fmt.Errorf("api truth: %w", err)
		}
	}
	t := Truth{Records: real}
	for _, raw := range real {
		dupe, bad := s.recordFate(path, raw)
		if dupe {
			t.Duplicated = append(t.Duplicated, raw)
		}
		if bad {
			t.Malformed = append(t.Malformed, malformedCopy(path, raw))
		}
	}
	return t, nil
}

// resultCacheMax bounds the number of cached result sets.
const resultCacheMax = 64

// resultSet returns the (cached) result set a page cursor stands for: records are pinned to the cursor's AsOf, so a
// result set never changes and follow-up pages need not collect it again.
func (s *Sim) resultSet(c cursor, collect func() []any) []any {
	key := fmt.Sprintf("%s|%d|%d|%s|%v|%s|%t|%d", c.Q.Path, c.Q.Start, c.Q.End, c.Q.Query, c.Q.Cats, c.Q.Extra, c.Q.Oldest, c.AsOf)
	s.mu.Lock()
	recs, ok := s.results[key]
	s.mu.Unlock()
	if ok {
		return recs
	}
	recs = s.decorate(c.Q.Path, collect())
	s.mu.Lock()
	if len(s.results) >= resultCacheMax {
		clear(s.results)
	}
	s.results[key] = recs
	s.mu.Unlock()
	return recs
}
