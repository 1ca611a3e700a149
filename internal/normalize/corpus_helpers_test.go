package normalize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

// corpusIngested is the TimeGenerated of every row decoded from the corpus.
var corpusIngested = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// tableSources lists, per table, the corpus files holding its records: "<file>" is NDJSON (API envelopes are
// skipped after checking they unwrap to no records), "sample:<file>" the event.original of an Elastic sample
// event, "release:<file>" the events[].message of the release-log test file, "stix-<feed>:<file>" the indicator
// objects of a threat-intel log, "testdata:<file>" an API page in our testdata/ (tables the corpus lacks), and
// "campaign-<id>:<source>" the records of source with the campaignId the collector adds.
var tableSources = map[string][]string{
	"Seg_Cg_CL":            {"siem_logs/test-siem-v2-logs.log"},
	"Cloud_Integrated_CL":  {"cloud_integrated_logs/test-cloud-integrated-logs.log", "sample:cloud_integrated_logs/sample_event.json"},
	"Seg_Dlp_CL":           {"dlp_logs/test-dlp-logs.log", "sample:dlp_logs/sample_event.json"},
	"Ttp_Url_CL":           {"ttp_url_logs/test-ttp-url-logs.log", "sample:ttp_url_logs/sample_event.json"},
	"Ttp_Attachment_CL":    {"ttp_ap_logs/test-ttp-ap-logs.log", "sample:ttp_ap_logs/sample_event.json"},
	"Ttp_Impersonation_CL": {"ttp_ip_logs/test-ttp-ip-logs.log", "sample:ttp_ip_logs/sample_event.json"},
	"Message_Release_CL": {"release:message_release_logs/test-release-logs.json",
		"sample:message_release_logs/sample_event.json"},
	"Archive_Search_CL": {"archive_search_logs/test-archive-search-logs.log", "sample:archive_search_logs/sample_event.json"},
	"Threat_Intel_CL": {"stix-malware_customer:threat_intel_malware_customer/test-threat-intel-malware-customer.log",
		"stix-malware_grid:threat_intel_malware_grid/test-threat-intel-malware-grid.log",
		"stix-malware_grid:sample:threat_intel_malware_grid/sample_event.json"},
	"Awareness_Performance_Details_CL": {"testdata:awareness/Awareness_Performance_Details_CL.json"},
	"Awareness_SafeScore_Details_CL":   {"testdata:awareness/Awareness_SafeScore_Details_CL.json"},
	"Awareness_Watchlist_Details_CL":   {"testdata:awareness/Awareness_Watchlist_Details_CL.json"},
	"Awareness_User_Data_CL":           {"campaign-cmp-17:testdata:awareness/Awareness_User_Data_CL.json"},
}

// knownRejects are corpus records Decode refuses on purpose, by table: the reason each must give.
var knownRejects = map[string][]string{
	// The fifth release record has no released time; schema rejects it (it cannot be placed in time).
	"Message_Release_CL": {"missing released"},
}

// corpusRecords returns every record of a table's corpus files, in file order.
func corpusRecords(t *testing.T, tab *schema.Table) []json.RawMessage {
	t.Helper()
	srcs, ok := tableSources[tab.Name]
	if !ok {
		t.Fatalf("no corpus source for %s", tab.Name)
	}
	var out []json.RawMessage
	for _, src := range srcs {
		feed, campaign := "", ""
		if rest, ok := strings.CutPrefix(src, "stix-"); ok {
			feed, src, _ = strings.Cut(rest, ":")
		}
		if rest, ok := strings.CutPrefix(src, "campaign-"); ok {
			campaign, src, _ = strings.Cut(rest, ":")
		}
		var recs []json.RawMessage
		switch {
		case strings.HasPrefix(src, "sample:"):
			recs = []json.RawMessage{sampleRecord(t, strings.TrimPrefix(src, "sample:"))}
		case strings.HasPrefix(src, "release:"):
			recs = releaseRecords(t, strings.TrimPrefix(src, "release:"))
		case strings.HasPrefix(src, "testdata:"):
			b, err := os.ReadFile(filepath.Join("testdata", strings.TrimPrefix(src, "testdata:")))
			if err != nil {
				t.Fatal(err)
			}
			if recs, err = schema.UnwrapRecords(tab.Name, b); err != nil {
				t.Fatal(err)
			}
		default:
			for _, l := range corpusFileLines(t, src) {
				if isEnvelope(l) {
					if got, err := schema.UnwrapRecords(tab.Name, l); err != nil || len(got) != 0 {
						t.Fatalf("%s: envelope line unwraps to %d records (%v)", src, len(got), err)
					}
					continue
				}
				recs = append(recs, l)
			}
		}
		if feed != "" {
			recs = stixIndicators(t, recs, feed)
		}
		for i := range recs {
			if campaign == "" {
				break
			}
			var err error
			if recs[i], err = schema.WithField(recs[i], "campaignId", campaign); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, recs...)
	}
	return out
}

// corpusRows decodes every corpus record of a table; the only decode errors allowed are knownRejects.
func corpusRows(t *testing.T, tab *schema.Table) []schema.Row {
	t.Helper()
	var rows []schema.Row
	rejects := knownRejects[tab.Name]
	var rejected []string
	for i, rec := range corpusRecords(t, tab) {
		row, err := tab.Decode("acme", rec, corpusIngested)
		if err != nil {
			var de *schema.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%s record %d: %v", tab.Name, i+1, err)
			}
			rejected = append(rejected, de.Reason)
			continue
		}
		rows = append(rows, row)
	}
	if len(rejected) != len(rejects) {
		t.Fatalf("%s: decode rejected %q, want exactly %q", tab.Name, rejected, rejects)
	}
	for i := range rejects {
		if !strings.Contains(rejected[i], rejects[i]) {
			t.Errorf("%s: reject %d is %q, want %q", tab.Name, i, rejected[i], rejects[i])
		}
	}
	return rows
}

// normalizeAll decodes and normalizes every corpus record of a table through its registered mapping; any
// error fails the test. It returns the events and, per row, how many events it gave.
func normalizeAll(t *testing.T, tab *schema.Table) ([]schema.Event, []int) {
	t.Helper()
	f, ok := For(tab.Name)
	if !ok {
		t.Fatalf("no mapping for %s", tab.Name)
	}
	var events []schema.Event
	var counts []int
	for i, row := range corpusRows(t, tab) {
		evs, err := f(row)
		if err != nil {
			t.Fatalf("%s row %d: %v", tab.Name, i+1, err)
		}
		events = append(events, evs...)
		counts = append(counts, len(evs))
	}
	return events, counts
}

// corpusFileLines returns the non-empty lines of a corpus file.
func corpusFileLines(t *testing.T, rel string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var out []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, json.RawMessage(bytes.Clone(l)))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// isEnvelope reports whether a line is an API response envelope (the empty last page of the Elastic mocks).
func isEnvelope(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	_, meta := m["meta"]
	_, data := m["data"]
	return meta && data
}

// sampleRecord returns the event.original of an Elastic sample_event.json.
func sampleRecord(t *testing.T, rel string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Event struct {
			Original string `json:"original"`
		} `json:"event"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Event.Original == "" {
		t.Fatalf("%s: no event.original (%v)", rel, err)
	}
	return json.RawMessage(doc.Event.Original)
}

// releaseRecords returns the events[].message records of the release-log test file.
func releaseRecords(t *testing.T, rel string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	out := make([]json.RawMessage, 0, len(file.Events))
	for _, e := range file.Events {
		out = append(out, json.RawMessage(e.Message))
	}
	return out
}

// stixIndicators keeps the indicator objects and adds the feedType the collector adds.
func stixIndicators(t *testing.T, recs []json.RawMessage, feed string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, rec := range recs {
		var h struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(rec, &h); err != nil {
			t.Fatal(err)
		}
		if h.Type != "indicator" {
			continue
		}
		rec, err := schema.WithField(rec, "feedType", feed)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}
