package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

var errExpired = errors.New("url expired")

// batchRun is what a careful batch client saw: every line of every distinct file, and how it had to recover.
type batchRun struct {
	lines    []json.RawMessage
	dupURLs  int // URLs listed twice on one page
	retries  int // file downloads retried after a 500 or a broken gzip body
	relisted int // pages listed again because a URL had expired
}

// listRoute lists one page of batch files of a SIEM route.
func (c *rawClient) listRoute(path string, params url.Values) (int, siemList) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path+"?"+params.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out siemList
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// download fetches one batch file and splits it into lines; a broken body or a 5xx is an error to retry.
func download(u string) ([]json.RawMessage, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusForbidden:
		return nil, errExpired
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var lines []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(plain))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, json.RawMessage(slices.Clone(sc.Bytes())))
	}
	return lines, nil
}

// downloadAll lists and downloads every batch file of one type from day on, like a careful client: it skips a
// URL repeated on a page, retries broken downloads and lists a page again when a URL has expired.
func (c *rawClient) downloadAll(path, typ, day string) (batchRun, error) {
	var run batchRun
	params := url.Values{"type": {typ}, "dateRangeStartsAt": {day}, "pageSize": {"20"}}
	for pages := 0; pages < 500; pages++ {
		status, list := c.listRoute(path, params)
		if status != http.StatusOK {
			return run, fmt.Errorf("list status %d", status)
		}
		seen := map[string]bool{}
		var page []json.RawMessage
		expired := false
		for _, v := range list.Value {
			if seen[v.URL] {
				run.dupURLs++
				continue
			}
			seen[v.URL] = true
			var lines []json.RawMessage
			var err error
			for try := 0; try < 3; try++ {
				if lines, err = download(v.URL); err == nil || errors.Is(err, errExpired) {
					break
				}
				run.retries++
			}
			if errors.Is(err, errExpired) {
				expired = true
				break
			}
			if err != nil {
				return run, err
			}
			page = append(page, lines...)
		}
		if expired {
			run.relisted++
			continue // same cursor: list the page again for fresh URLs
		}
		run.lines = append(run.lines, page...)
		params.Set("nextPage", list.NextPage)
		if list.IsCaughtUp {
			return run, nil
		}
	}
	return run, errors.New("never caught up")
}

// counts maps each line to how often it occurs. The tenant writes every record with encoding/json (sorted keys),
// so equal records are equal bytes.
func counts(lines []json.RawMessage) map[string]int {
	out := map[string]int{}
	for _, l := range lines {
		out[string(l)]++
	}
	return out
}

func TestSIEMEveryType(t *testing.T) {
	t.Parallel()
	s, srv := newTestSim(t, Options{Seed: 41, Mailboxes: 10, Days: 1})
	c := newRawClient(t, s, srv)
	c.login()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	routes := []struct {
		path  string
		types []string
		table *schema.Table
	}{
		{PathSIEMBatchCG, SIEMTypes, &schema.SegCg},
		{PathSIEMBatchCI, CITypes, &schema.CloudIntegrated},
	}
	for _, rt := range routes {
		for _, typ := range rt.types {
			t.Run(typ, func(t *testing.T) {
				run, err := c.downloadAll(rt.path, typ, "2026-03-10")
				if err != nil {
					t.Fatal(err)
				}
				want, err := s.SIEMEvents(typ, day, s.SIEMAvailableUntil().Add(-time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				if len(want) == 0 {
					t.Fatalf("no %s events in half a day", typ)
				}
				if !slices.Equal(canonical(t, run.lines), canonical(t, want)) {
					t.Fatalf("files hold %d events, ground truth %d (or they differ)", len(run.lines), len(want))
				}
				for _, line := range run.lines {
					if _, err := rt.table.Decode("t1", line, testNow); err != nil {
						t.Fatalf("%s rejects %s: %v", rt.table.Name, line, err)
					}
				}
				truth, err := s.SIEMTruth(typ, day, testNow)
				if err != nil || len(truth.Duplicated)+len(truth.Malformed) != 0 || !slices.Equal(canonical(t, truth.Records), canonical(t, want)) {
					t.Errorf("SIEMTruth without faults: %d records, %d dupes, %d malformed, err %v", len(truth.Records), len(truth.Duplicated), len(truth.Malformed), err)
				}
			})
		}
	}
	t.Run("a cg type on the ci route", func(t *testing.T) {
		if status, _ := c.listRoute(PathSIEMBatchCI, url.Values{"type": {"receipt"}}); status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", status)
		}
	})
	t.Run("a ci type on the cg route", func(t *testing.T) {
		if status, _ := c.listRoute(PathSIEMBatchCG, url.Values{"type": {"entities"}}); status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", status)
		}
	})
	t.Run("unknown type in ground truth", func(t *testing.T) {
		if _, err := s.SIEMTruth("mta", day, testNow); err == nil {
			t.Error("SIEMTruth accepted an unknown type")
		}
	})
}

// batchStream is one batch type with its route and table.
type batchStream struct {
	path, typ string
	table     *schema.Table
}

func TestSIEMDataFaults(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	clean := mustSim(t, Options{Seed: 42, Mailboxes: 10, Days: 1, Now: func() time.Time { return testNow }})
	cg := batchStream{PathSIEMBatchCG, "process", &schema.SegCg}
	ci := batchStream{PathSIEMBatchCI, "entities", &schema.CloudIntegrated}
	tests := []struct {
		faults  string
		streams []batchStream
		fired   func(Stats) bool
		check   func(t *testing.T, run batchRun)
	}{
		{"dupes", []batchStream{cg}, func(st Stats) bool { return st.DuplicateURLs > 0 }, func(t *testing.T, run batchRun) {
			if run.dupURLs == 0 {
				t.Error("no URL listed twice")
			}
		}},
		{"gzipfail", []batchStream{ci}, func(st Stats) bool { return st.FileFailures > 0 }, func(t *testing.T, run batchRun) {
			if run.retries == 0 {
				t.Error("no download had to be retried")
			}
		}},
		{"expiredurl", []batchStream{ci}, func(st Stats) bool { return st.ExpiredURLs > 0 }, func(t *testing.T, run batchRun) {
			if run.relisted == 0 {
				t.Error("no page had to be listed again")
			}
		}},
		{"badjson", []batchStream{cg}, func(Stats) bool { return true }, nil},
		{"data,ratelimit,5xx", []batchStream{cg, ci}, func(st Stats) bool {
			return st.DuplicateURLs > 0 && st.FileFailures > 0 && st.ExpiredURLs > 0
		}, nil},
	}
	for _, tt := range tests {
		for _, rt := range tt.streams {
			t.Run(tt.faults+" "+rt.typ, func(t *testing.T) {
				faults, err := ParseFaults(tt.faults)
				if err != nil {
					t.Fatal(err)
				}
				s, srv := newTestSim(t, Options{Seed: 42, Mailboxes: 10, Days: 1, Faults: faults, RateLimitCalls: 50})
				c := newRawClient(t, s, srv)
				c.login()
				var run batchRun
				for try := 0; ; try++ {
					if run, err = c.downloadAll(rt.path, rt.typ, "2026-03-10"); err == nil || try == 20 {
						break
					}
					time.Sleep(30 * time.Millisecond) // a 429 or 500 on the listing: start over
				}
				if err != nil {
					t.Fatal(err)
				}
				if !tt.fired(s.Stats()) {
					t.Errorf("fault never fired: %+v", s.Stats())
				}
				if tt.check != nil {
					tt.check(t, run)
				}
				truth, err := s.SIEMTruth(rt.typ, day, testNow)
				if err != nil {
					t.Fatal(err)
				}
				// Ground truth does not depend on faults.
				want, _ := clean.SIEMEvents(rt.typ, day, s.SIEMAvailableUntil().Add(-time.Millisecond))
				got := counts(run.lines)
				var valid, bad []json.RawMessage
				for _, line := range run.lines {
					if _, err := rt.table.Decode("t1", line, testNow); err != nil {
						bad = append(bad, line)
						continue
					}
					valid = append(valid, line)
				}
				unique := map[string]int{}
				for k, n := range counts(valid) {
					unique[k] = n
				}
				wantUnique := counts(truth.Records)
				if len(unique) != len(wantUnique) {
					t.Fatalf("%d distinct valid events, truth %d", len(unique), len(wantUnique))
				}
				for k := range wantUnique {
					if unique[k] == 0 {
						t.Fatalf("event missing: %s", k)
					}
				}
				realOnly := counts(want)
				for k := range realOnly {
					if wantUnique[k] == 0 {
						t.Fatalf("truth lacks an event of the fault-free tenant: %s", k)
					}
				}
				for _, d := range truth.Duplicated {
					if n := got[canonicalOne(d)]; n != 2 {
						t.Errorf("duplicated event seen %d times", n)
					}
				}
				if dupes := len(valid) - len(unique); dupes != len(truth.Duplicated) {
					t.Errorf("%d repeated lines, truth says %d", dupes, len(truth.Duplicated))
				}
				if !slices.Equal(canonicalRaw(bad), canonicalRaw(truth.Malformed)) {
					t.Errorf("%d lines rejected by %s, truth says %d malformed", len(bad), rt.table.Name, len(truth.Malformed))
				}
				switch {
				case faults.Dupes && len(truth.Duplicated) == 0:
					t.Error("dupes fault but no duplicated event")
				case !faults.Dupes && len(truth.Duplicated) > 0:
					t.Error("duplicated events without the dupes fault")
				case faults.BadJSON && len(truth.Malformed) == 0:
					t.Error("badjson fault but no malformed line")
				case !faults.BadJSON && len(truth.Malformed) > 0:
					t.Error("malformed lines without the badjson fault")
				}
			})
		}
	}
}

// canonicalOne returns the key counts uses for a line.
func canonicalOne(l json.RawMessage) string { return string(l) }

// canonicalRaw returns the lines as sorted strings (invalid JSON kept as is).
func canonicalRaw(lines []json.RawMessage) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	slices.Sort(out)
	return out
}
