package sim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// SIEM batch constants: one file per type and 15-minute period, listed 15 minutes after the period ends
// (spec mimecast-api §4.1, §6.4), pre-signed file URLs valid for an hour.
const (
	siemPeriod     = 15 * time.Minute
	siemLag        = 15 * time.Minute
	siemURLTTL     = time.Hour
	siemPageMax    = 100
	siemFilePrefix = "/siem-files/"
)

// logFilter is data[0] of the mail-log functions.
type logFilter struct {
	From        *string  `json:"from"`
	To          *string  `json:"to"`
	OldestFirst bool     `json:"oldestFirst"`
	Route       string   `json:"route"`
	ScanResult  string   `json:"scanResult"`
	Result      string   `json:"result"`
	Actions     []string `json:"actions"`
	Routes      []string `json:"routes"`
}

// parseLogFilter validates data[0] of a mail-log function into a query bound to path.
func parseLogFilter(path string, raw json.RawMessage) (auditQuery, logFilter, *validationError) {
	var f logFilter
	if err := json.Unmarshal(raw, &f); err != nil {
		return auditQuery{}, f, &validationError{codeBadBody, "data[0] is not a valid filter object"}
	}
	q := auditQuery{Path: path, Oldest: f.OldestFirst}
	fromName, toName := "from", "to"
	if names, ok := logDateFields[path]; ok {
		fromName, toName = names[0], names[1]
		var alt struct {
			Start *string `json:"start"`
			End   *string `json:"end"`
		}
		_ = json.Unmarshal(raw, &alt)
		f.From, f.To = alt.Start, alt.End
	}
	for _, fld := range []struct {
		name string
		v    *string
		dst  *int64
	}{{fromName, f.From, &q.Start}, {toName, f.To, &q.End}} {
		switch {
		case fld.v == nil:
			return q, f, &validationError{codeNull, fld.name + " must not be null"}
		case strings.TrimSpace(*fld.v) == "":
			return q, f, &validationError{codeBlank, fld.name + " must not be blank"}
		}
		t, err := parseAPIDate(*fld.v)
		if err != nil {
			return q, f, &validationError{codeDateFormat, fmt.Sprintf("%s %q is not a valid date, expected yyyy-MM-dd'T'HH:mm:ssZ", fld.name, *fld.v)}
		}
		*fld.dst = t.Unix()
	}
	if q.Start > q.End {
		return q, f, &validationError{codeDateRange, fromName + " must not be after " + toName}
	}
	// Every other field is part of the query a page token is bound to.
	var rest map[string]any
	_ = json.Unmarshal(raw, &rest)
	delete(rest, fromName)
	delete(rest, toName)
	delete(rest, "oldestFirst")
	if len(rest) > 0 {
		b, _ := json.Marshal(rest)
		q.Extra = string(b)
	}
	return q, f, nil
}

// keep applies the documented filter fields that narrow a mail-log result.
func (f logFilter) keep(rec map[string]any) bool {
	eq := func(field, want string) bool {
		v, _ := rec[field].(string)
		return want == "" || strings.EqualFold(want, "all") || strings.EqualFold(v, want)
	}
	in := func(field string, list []string) bool {
		v, _ := rec[field].(string)
		return len(list) == 0 || slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, v) })
	}
	return eq("route", f.Route) && eq("scanResult", f.ScanResult) && eq("result", f.Result) &&
		in("action", f.Actions) && in("route", f.Routes)
}

// collectLogs returns the records of a mail-log function with time in [from, to] that exist at asOf, newest first
// unless oldest.
func (s *Sim) collectLogs(path string, from, to, asOf time.Time, oldest bool, keep func(map[string]any) bool) []map[string]any {
	if to.After(asOf) {
		to = asOf
	}
	lo, hi, ok := s.visible(from, to)
	if !ok {
		return nil
	}
	var found []logRec
	for h := floorDiv(lo.Unix(), 3600) - logLookbackHours[path]; h <= floorDiv(hi.Unix(), 3600); h++ {
		for _, lr := range s.mailFlow(h).logs[path] {
			if lr.t.Before(lo) || lr.t.After(hi) || (keep != nil && !keep(lr.rec)) {
				continue
			}
			found = append(found, lr)
		}
	}
	if logLookbackHours[path] > 0 {
		slices.SortStableFunc(found, func(a, b logRec) int { return a.t.Compare(b.t) })
	}
	out := make([]map[string]any, len(found))
	for i, lr := range found {
		out[i] = lr.rec
	}
	if !oldest {
		slices.Reverse(out)
	}
	return out
}

// LogRecords returns the records of a mail-log function (PathTTPURL, PathTTPAttachment, PathTTPImpersonation,
// PathDLP) with time in [from, to] that exist now, newest first, as JSON objects exactly as the API serves them.
func (s *Sim) LogRecords(path string, from, to time.Time) ([]json.RawMessage, error) {
	if _, ok := logListKeys[path]; !ok {
		return nil, fmt.Errorf("unknown log function %q", path)
	}
	return marshalAll(s.collectLogs(path, from, to, s.opts.Now(), false, nil)), nil
}

func marshalAll(recs []map[string]any) []json.RawMessage {
	out := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		out[i], _ = json.Marshal(r)
	}
	return out
}

// handleLogs serves the mail-log functions: records in data[0].<listKey>[], filters from/to/oldestFirst/route/….
func (s *Sim) handleLogs(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	var req apiRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBodyKB<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"meta": map[string]any{"status": http.StatusBadRequest},
			"data": []any{},
			"fail": []any{map[string]any{"errors": []any{map[string]any{
				"code": codeBadBody, "message": "request body is not valid JSON", "retryable": false}}}},
		})
		return
	}
	var key json.RawMessage
	if len(req.Data) > 0 {
		key = req.Data[0]
	}
	size, verr := s.parsePageSize(req.Meta.Pagination.PageSize)
	if verr != nil {
		s.writeFail(w, key, verr)
		return
	}
	var c cursor
	var err error
	tok := req.Meta.Pagination.PageToken
	if tok != "" {
		if c, err = s.decodeCursor(tok); err != nil {
			s.writeFail(w, key, &validationError{codePageToken, err.Error()})
			return
		}
	}
	var filter logFilter
	switch {
	case len(req.Data) > 0:
		q, f, verr := parseLogFilter(path, req.Data[0])
		if verr != nil {
			s.writeFail(w, key, verr)
			return
		}
		filter = f
		if tok != "" && !q.equal(c.Q) {
			s.writeFail(w, key, &validationError{codePageToken, "page token belongs to a different query"})
			return
		}
		if tok == "" {
			c = cursor{Q: q, AsOf: s.opts.Now().Unix()}
		}
	case tok == "":
		s.writeFail(w, key, &validationError{codeNull, "data must not be null"})
		return
	case c.Q.Path != path:
		s.writeFail(w, key, &validationError{codePageToken, "page token belongs to a different function"})
		return
	default:
		if c.Q.Extra != "" {
			_ = json.Unmarshal([]byte(c.Q.Extra), &filter)
		}
	}
	recs := s.resultSet(c, func() []any {
		found := s.collectLogs(path, time.Unix(c.Q.Start, 0), time.Unix(c.Q.End, 0), time.Unix(c.AsOf, 0), c.Q.Oldest, filter.keep)
		out := make([]any, len(found))
		for i := range found {
			out[i] = found[i]
		}
		return out
	})
	listKey := logListKeys[path]
	s.writePage(w, c, size, len(recs), func(lo, hi int) any {
		item := map[string]any{listKey: recs[lo:hi]}
		if path == PathTTPImpersonation {
			item["resultCount"] = hi - lo
		}
		return []any{item}
	})
}

// SIEMAvailableUntil is the end of the newest SIEM batch period the tenant lists now: events before it are in
// listed files.
func (s *Sim) SIEMAvailableUntil() time.Time {
	return s.opts.Now().UTC().Add(-siemLag).Truncate(siemPeriod)
}

// siemCursor is the content of an @nextPage token: the type and the last period already listed. The date range
// is not part of it: a client may continue with nextPage alone or with new dates.
type siemCursor struct {
	Type  string `json:"t"`
	After int64  `json:"a"` // unix start of the last listed period; 0 = none yet
}

// sign returns base64(mac || payload) with the tenant key.
func (s *Sim) sign(v any, enc *base64.Encoding) string {
	raw, _ := json.Marshal(v)
	mac := hmac.New(sha256.New, s.key)
	mac.Write(raw)
	return enc.EncodeToString(append(mac.Sum(nil)[:12], raw...))
}

// verify decodes a value made by sign.
func (s *Sim) verify(tok string, enc *base64.Encoding, v any) bool {
	b, err := enc.DecodeString(tok)
	if err != nil || len(b) < 13 {
		return false
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write(b[12:])
	return hmac.Equal(mac.Sum(nil)[:12], b[:12]) && json.Unmarshal(b[12:], v) == nil
}

// siemError writes the SIEM routes' error shape {"error":{"code","message"}}.
func siemError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
