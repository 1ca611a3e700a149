package sim

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PathSIEMBatchCI is the Cloud Integrated batch route; its types are CITypes.
const PathSIEMBatchCI = "/siem/v1/batch/events/ci"

// CITypes are the Cloud Integrated batch types the tenant produces.
var CITypes = []string{"entities", "mailflow", "urlclick"}

// Shares of batch files and records the data faults touch.
const (
	dupeEventRate  = 0.05 // events of a file repeated in the next file (dupes)
	badLineRate    = 0.25 // files with one malformed NDJSON line (badjson)
	gzipFailRate   = 0.3  // files whose first download fails (gzipfail)
	expiredURLRate = 0.5  // files whose first listing carries an expired URL (expiredurl)
	dupeRecordRate = 0.05 // /api records served twice (dupes)
	badRecordRate  = 0.03 // /api records followed by a malformed copy (badjson)
	siemRouteCG    = "cg"
	siemRouteCI    = "ci"
)

// siemRoutes maps the batch route name to its types.
var siemRoutes = map[string][]string{siemRouteCG: SIEMTypes, siemRouteCI: CITypes}

// routeOf returns the batch route a type belongs to.
func routeOf(typ string) (string, bool) {
	switch {
	case slices.Contains(SIEMTypes, typ):
		return siemRouteCG, true
	case slices.Contains(CITypes, typ):
		return siemRouteCI, true
	}
	return "", false
}

// siemEventsOfHour returns the generated events of one type in unix hour h, oldest first.
func (s *Sim) siemEventsOfHour(typ string, h int64) []logRec {
	if route, _ := routeOf(typ); route == siemRouteCI {
		return s.ciFlow(h)[typ]
	}
	return s.mailFlow(h).siem[typ]
}

// SIEMEvents returns the SIEM events of one type (a Cloud Gateway type of SIEMTypes or a Cloud Integrated type of
// CITypes) with timestamp in [from, to] that exist now (batch files lag behind; see SIEMAvailableUntil), oldest
// first, as the NDJSON lines of the batch files. Each event is listed once, however often the dupes fault serves it.
func (s *Sim) SIEMEvents(siemType string, from, to time.Time) ([]json.RawMessage, error) {
	if _, ok := routeOf(siemType); !ok {
		return nil, fmt.Errorf("unknown SIEM type %q", siemType)
	}
	lo, hi, ok := s.visible(from, to)
	if !ok {
		return nil, nil
	}
	var out []json.RawMessage
	for h := floorDiv(lo.Unix(), 3600); h <= floorDiv(hi.Unix(), 3600); h++ {
		list := s.siemEventsOfHour(siemType, h)
		for i, lr := range list {
			if !lr.t.Before(lo) && !lr.t.After(hi) {
				out = append(out, slices.Clone(s.rawOf(list, i)))
			}
		}
	}
	return out, nil
}

// Truth is the ground truth of what a stream serves: the real records, which of them are served more than once,
// and the malformed records that a decoder must reject (and a collector quarantine).
type Truth struct {
	// Records are the real records, each once (what a correct collector stores).
	Records []json.RawMessage
	// Duplicated are the real records the tenant serves more than once (a subset of Records).
	Duplicated []json.RawMessage
	// Malformed are the injected bad records or NDJSON lines, each once.
	Malformed []json.RawMessage
}

// siemFileData is one batch file: its lines and which of them are real, repeated or malformed.
type siemFileData struct {
	real, dup, bad []json.RawMessage
	gz             []byte // nil when the file has no lines
}

// siemFile returns the file of one type and period (cached).
func (s *Sim) siemFile(typ string, period int64) siemFileData {
	key := typ + "|" + strconv.FormatInt(period, 10)
	s.mu.Lock()
	f, ok := s.files[key]
	s.mu.Unlock()
	if ok {
		return f
	}
	f.real = s.periodEvents(typ, period)
	if s.opts.Faults.Dupes {
		prev := period - int64(siemPeriod/time.Second)
		for i, line := range s.periodEvents(typ, prev) {
			if unitFloat(s.opts.Seed, "dupe-event:"+typ+"|"+strconv.FormatInt(prev, 10), uint64(i)) < dupeEventRate {
				f.dup = append(f.dup, line)
			}
		}
	}
	lines := append(slices.Clone(f.real), f.dup...)
	if s.opts.Faults.BadJSON && len(f.real) > 0 && unitFloat(s.opts.Seed, "bad-line:"+key, 0) < badLineRate {
		src := f.real[len(f.real)/2]
		bad := json.RawMessage(slices.Clone(src[:len(src)/2]))
		f.bad = []json.RawMessage{bad}
		at := len(lines) / 2
		lines = slices.Insert(lines, at, bad)
	}
	if len(lines) > 0 {
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		for _, l := range lines {
			_, _ = zw.Write(l)
			_, _ = zw.Write([]byte{'\n'})
		}
		_ = zw.Close()
		f.gz = gz.Bytes()
	}
	s.mu.Lock()
	s.files[key] = f
	s.mu.Unlock()
	return f
}

// periodEvents returns the events of one type inside one 15-minute period, oldest first, as NDJSON lines.
func (s *Sim) periodEvents(typ string, period int64) []json.RawMessage {
	from := time.Unix(period, 0).UTC()
	var out []json.RawMessage
	list := s.siemEventsOfHour(typ, floorDiv(period, 3600))
	for i, lr := range list {
		if lr.t.Before(from) || !lr.t.Before(from.Add(siemPeriod)) || lr.t.Before(s.origin) {
			continue
		}
		out = append(out, s.rawOf(list, i))
	}
	return out
}

// SIEMTruth returns the ground truth of the batch files of one type whose period starts in [from, to) and that
// are listed now: every distinct real event the files hold (SIEMEvents over the same periods, plus, under the dupes
// fault, the events of the period before that the first file repeats), the events the files hold twice, and the
// malformed lines injected under the badjson fault.
func (s *Sim) SIEMTruth(siemType string, from, to time.Time) (Truth, error) {
	if _, ok := routeOf(siemType); !ok {
		return Truth{}, fmt.Errorf("unknown SIEM type %q", siemType)
	}
	var t Truth
	step := int64(siemPeriod / time.Second)
	first := max(from.Unix(), s.origin.Truncate(siemPeriod).Unix())
	first += floorMod(-first, step)
	last := min(to.Unix(), s.SIEMAvailableUntil().Unix())
	for p := first; p < last; p += step {
		f := s.siemFile(siemType, p)
		if p == first {
			// The first file's repeats come from a period outside the range: there they are seen once.
			t.Records = append(t.Records, f.dup...)
		} else {
			t.Duplicated = append(t.Duplicated, f.dup...)
		}
		t.Records = append(t.Records, f.real...)
		t.Malformed = append(t.Malformed, f.bad...)
	}
	return t, nil
}

// siemFileRef is the signed content of a batch-file URL.
type siemFileRef struct {
	Type   string `json:"t"`
	Period int64  `json:"p"`
	Expiry int64  `json:"x"` // unix milliseconds
	N      int    `json:"n,omitempty"`
}

// siemBatch serves GET /siem/v1/batch/events/<route>: pages of pre-signed batch-file URLs.
func (s *Sim) siemBatch(route string) http.HandlerFunc {
	types := siemRoutes[route]
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		size := siemPageMax
		if v := q.Get("pageSize"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > siemPageMax {
				siemError(w, http.StatusBadRequest, "invalid_parameter", "pageSize must be between 1 and 100")
				return
			}
			size = n
		}
		var c siemCursor
		if tok := q.Get("nextPage"); tok != "" {
			if !s.verify(tok, base64.StdEncoding, &c) {
				siemError(w, http.StatusBadRequest, "invalid_parameter", "nextPage is not a valid token")
				return
			}
		}
		typ := q.Get("type")
		switch {
		case typ == "" && c.Type != "" && slices.Contains(types, c.Type):
			typ = c.Type
		case !slices.Contains(types, typ):
			siemError(w, http.StatusBadRequest, "invalid_parameter", fmt.Sprintf("type %q is not one of %s", typ, strings.Join(types, ", ")))
			return
		case c.Type != "" && c.Type != typ:
			siemError(w, http.StatusBadRequest, "invalid_parameter", "nextPage belongs to another type")
			return
		}
		day := func(name string) (int64, bool) {
			v := q.Get(name)
			if v == "" {
				return 0, true
			}
			t, err := time.Parse("2006-01-02", v)
			if err != nil {
				siemError(w, http.StatusBadRequest, "invalid_parameter", name+" must be a date yyyy-MM-dd")
				return 0, false
			}
			return t.Unix(), true
		}
		startDay, ok := day("dateRangeStartsAt")
		if !ok {
			return
		}
		endDay, ok := day("dateRangeEndsAt")
		if !ok {
			return
		}
		if endDay != 0 && startDay > endDay {
			siemError(w, http.StatusBadRequest, "invalid_parameter", "dateRangeStartsAt must not be after dateRangeEndsAt")
			return
		}

		now := s.opts.Now().UTC()
		first := max(startDay, s.origin.Truncate(siemPeriod).Unix())
		if c.After != 0 {
			first = max(first, c.After+int64(siemPeriod/time.Second))
		}
		last := s.SIEMAvailableUntil().Add(-siemPeriod).Unix() // start of the newest listed period
		if endDay != 0 {
			last = min(last, endDay+86400-int64(siemPeriod/time.Second))
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		distinct := size
		if s.opts.Faults.Dupes && size > 1 {
			distinct = size - 1 // room for the repeated URL
		}
		value := []map[string]any{}
		next := siemCursor{Type: typ, After: c.After}
		caughtUp := true
		step := int64(siemPeriod / time.Second)
		for p := first - floorMod(first, step); p <= last; p += step {
			if p < first {
				continue
			}
			f := s.siemFile(typ, p)
			if f.gz == nil {
				next.After = p
				continue
			}
			if len(value) == distinct {
				caughtUp = false
				break
			}
			value = append(value, s.fileEntry(scheme, r.Host, typ, p, len(f.gz), now))
			next.After = p
		}
		if s.opts.Faults.Dupes && len(value) > 0 {
			value = append(value, value[0])
			s.count(func(st *Stats) { st.DuplicateURLs++ })
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"value":      value,
			"@nextPage":  s.sign(next, base64.StdEncoding),
			"isCaughtUp": caughtUp,
		})
	}
}

// fileEntry is one value[] item: a fresh pre-signed URL. Under expiredurl the first listing of some files hands
// out a URL that has already expired; listing again gives a working one.
func (s *Sim) fileEntry(scheme, host, typ string, period int64, size int, now time.Time) map[string]any {
	key := typ + "|" + strconv.FormatInt(period, 10)
	s.mu.Lock()
	s.listings[key]++
	n := s.listings[key]
	s.mu.Unlock()
	expiry := now.Add(siemURLTTL)
	if s.opts.Faults.ExpiredURL && n == 1 && unitFloat(s.opts.Seed, "expired-url:"+key, 0) < expiredURLRate {
		expiry = now.Add(-time.Millisecond)
	}
	id := s.sign(siemFileRef{Type: typ, Period: period, Expiry: expiry.UnixMilli(), N: n}, base64.RawURLEncoding)
	return map[string]any{
		"url":    fmt.Sprintf("%s://%s%s%s", scheme, host, siemFilePrefix, id),
		"expiry": expiry.UTC().Format("2006-01-02T15:04:05.000Z"),
		"size":   size,
	}
}

// handleSIEMFile serves a pre-signed batch file: no Authorization needed, 403 once the URL has expired. Under
// gzipfail the first download of some files answers 500 or a truncated gzip body; the next one succeeds.
func (s *Sim) handleSIEMFile(w http.ResponseWriter, r *http.Request) {
	var ref siemFileRef
	id := strings.TrimPrefix(r.URL.Path, siemFilePrefix)
	if r.Method != http.MethodGet || !s.verify(id, base64.RawURLEncoding, &ref) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>")
		return
	}
	if s.opts.Now().UnixMilli() > ref.Expiry {
		s.count(func(st *Stats) { st.ExpiredURLs++ })
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
		return
	}
	body := s.siemFile(ref.Type, ref.Period).gz
	key := ref.Type + "|" + strconv.FormatInt(ref.Period, 10)
	if s.opts.Faults.GzipFail && unitFloat(s.opts.Seed, "gzip-fail:"+key, 0) < gzipFailRate {
		s.mu.Lock()
		s.downloads[key]++
		n := s.downloads[key]
		s.mu.Unlock()
		if n == 1 {
			s.count(func(st *Stats) { st.FileFailures++ })
			if unitFloat(s.opts.Seed, "gzip-fail-kind:"+key, 0) < 0.5 {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>")
				return
			}
			body = body[:len(body)/2]
		}
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}
