package web

// Tests of the TTP workbook against the shared simulated store; expected values are computed in Go from the
// stored rows (see dash_seg_test.go for the checking helpers).

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ttpTables are the three TTP tables, their event-time column and the header chart's label.
var ttpTables = []struct{ table, timeCol, label string }{
	{"Ttp_Url_CL", "Date", "URL Protect"},
	{"Ttp_Attachment_CL", "Date", "Attachment Protect"},
	{"Ttp_Impersonation_CL", "eventTime", "Impersonation Protect"},
}

// ttpWhen is a TTP row's event time.
func ttpWhen(r fixRow) time.Time {
	for _, tt := range ttpTables {
		if tt.table == r.table.Name {
			return r.time(tt.timeCol)
		}
	}
	panic("not a TTP table: " + r.table.Name)
}

// jsonItems counts a JSON column once per array element, or once for a single value.
func jsonItems(col string) func(r fixRow) []string {
	return func(r fixRow) []string {
		raw, _ := r.value(col).(json.RawMessage)
		var list []any
		if json.Unmarshal(raw, &list) != nil {
			var one any
			if json.Unmarshal(raw, &one) != nil || one == nil {
				return nil
			}
			list = []any{one}
		}
		var out []string
		for _, v := range list {
			if s, ok := v.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
}

// ttpSpecs are every TTP panel with its expected rows.
func ttpSpecs() map[string]panelSpec {
	on := func(table string, pred rowPred, key rowKey) panelSpec {
		return panelSpec{rows: func(t testing.TB) []fixRow { return loadSimFixture(t).rows(t, table) },
			when: ttpWhen, pred: pred, key: key}
	}
	label := func(v string) rowKey { return func(fixRow) (string, bool) { return v, true } }
	urlBad := func(r fixRow) bool { return r.str("scanResult") == "malicious" }
	attBad := func(r fixRow) bool { return r.str("result") != "safe" }
	impBad := func(r fixRow) bool { b, _ := r.value("taggedMalicious").(bool); return b }
	url := func(col string) panelSpec { return on("Ttp_Url_CL", urlBad, nonEmptyKey(col)) }
	att := func(col string) panelSpec { return on("Ttp_Attachment_CL", attBad, nonEmptyKey(col)) }
	imp := func(col string) panelSpec { return on("Ttp_Impersonation_CL", anyRow, nonEmptyKey(col)) }
	header := panelSpec{when: ttpWhen, pred: anyRow,
		rows: func(t testing.TB) []fixRow {
			var all []fixRow
			for _, tt := range ttpTables {
				all = append(all, loadSimFixture(t).rows(t, tt.table)...)
			}
			return all
		},
		key: func(r fixRow) (string, bool) {
			for _, tt := range ttpTables {
				if tt.table == r.table.Name {
					return tt.label, true
				}
			}
			return "", false
		}}
	strip := regexp.MustCompile(`[\[\]{}"]`)
	return map[string]panelSpec{
		"url-threats": header, "attachment-threats": header, "impersonation-threats": header,

		"malicious-urls": on("Ttp_Url_CL", urlBad, label("Malicious URLs")),
		"url-senders": on("Ttp_Url_CL", both(urlBad, func(r fixRow) bool {
			return strings.Contains(r.str("fromUserEmailAddress"), "@")
		}), nonEmptyKey("fromUserEmailAddress")),
		"url-urls":            url("url"),
		"url-recipients":      url("userEmailAddress"),
		"url-phish-brands":    url("advancedPhishingResult_CredentialTheftBrands"),
		"url-phish-evidence":  url("advancedPhishingResult_CredentialTheftEvidence"),
		"url-phish-tags":      url("advancedPhishingResult_CredentialTheftTags"),
		"url-definitions":     url("ttpDefinition"),
		"url-admin-overrides": url("adminOverride"),
		"url-actions":         url("action"),
		"url-user-overrides":  url("userOverride"),
		"url-sending-ips":     url("sendingIp"),
		"url-categories":      url("Category"),
		"url-awareness":       url("userAwarenessAction"),
		"url-subjects":        url("subject"),

		"malicious-attachments": on("Ttp_Attachment_CL", attBad, label("Malicious attachments")),
		"attachment-recipients": att("recipientAddress"),
		"attachment-actions":    att("actionTriggered"),
		"attachment-senders":    att("senderAddress"),
		"attachment-file-types": att("fileType"),
		"attachment-details": on("Ttp_Attachment_CL", attBad, func(r fixRow) (string, bool) {
			d := strings.Trim(r.str("details"), " ")
			return d, d != ""
		}),
		"attachment-results":  on("Ttp_Attachment_CL", anyRow, nonEmptyKey("result")),
		"attachment-subjects": att("subject"),
		"attachment-hashes":   att("fileHash"),

		"malicious-impersonations": on("Ttp_Impersonation_CL", impBad, label("Malicious impersonations")),
		"impersonation-recipients": imp("recipientAddress"),
		"impersonation-senders":    imp("senderAddress"),
		"url-mitigations": {rows: func(t testing.TB) []fixRow { return loadSimFixture(t).rows(t, "Ttp_Url_CL") },
			when: ttpWhen, pred: urlBad, keys: jsonItems("actions")},
		"impersonation-identifiers": {rows: func(t testing.TB) []fixRow { return loadSimFixture(t).rows(t, "Ttp_Impersonation_CL") },
			when: ttpWhen, pred: anyRow, keys: jsonItems("identifiers")},
		"impersonation-results": on("Ttp_Impersonation_CL", anyRow, func(r fixRow) (string, bool) {
			v := strip.ReplaceAllString(r.str("impersonationResults"), "")
			return v, v != ""
		}),
	}
}

// TestTTPPanels checks every TTP panel against counts computed from the stored records for three ranges, and
// that the range changes the counts.
func TestTTPPanels(t *testing.T) {
	f := loadSimFixture(t)
	totals := checkDashboard(t, f, "ttp", ttpSpecs(), "1h", "1d", "7d")
	for _, id := range []string{"url-threats", "malicious-urls", "attachment-results", "impersonation-senders"} {
		if totals[id+"@1d"] == 0 || totals[id+"@1d"] >= totals[id+"@7d"] {
			t.Errorf("%s: %d in 1d, %d in 7d: the range does not change the count", id, totals[id+"@1d"], totals[id+"@7d"])
		}
	}
	t.Logf("7d: all detections %d, malicious URLs %d, attachments %d, malicious impersonations %d",
		totals["url-threats@7d"], totals["malicious-urls@7d"], totals["attachment-results@7d"], totals["malicious-impersonations@7d"])
}

// TestTTPDrillDownAndCSV: a click on a malicious URL lists exactly that URL's malicious clicks (400 without the
// value); unknown parameters and panels are refused; a pie exports as CSV with the JSON's rows.
func TestTTPDrillDownAndCSV(t *testing.T) {
	f := loadSimFixture(t)
	pie := f.panel(t, "ttp", "url-urls", url.Values{"range": {"7d"}})
	if pie.Drill == nil || pie.Drill.Param != ttpURLParam || len(pie.Rows) == 0 {
		t.Fatalf("url-urls: drill %+v, rows %v", pie.Drill, pie.Rows)
	}
	clicked := pie.str(0, 0)
	want := 0
	for _, r := range f.rows(t, "Ttp_Url_CL") {
		if r.str("scanResult") == "malicious" && r.str("url") == clicked && f.inRange(ttpWhen(r), "7d") {
			want++
		}
	}
	clicks := f.panel(t, "ttp", "url-clicks", url.Values{"range": {"7d"}, ttpURLParam: {clicked}})
	if want == 0 || len(clicks.Rows) != want || clicks.Title != "Malicious URL Clicks: "+clicked {
		t.Errorf("url-clicks for %s: %d rows titled %q, want %d", clicked, len(clicks.Rows), clicks.Title, want)
	}
	for i := range clicks.Rows {
		if clicks.str(i, 3) != clicked {
			t.Errorf("url-clicks row %v is not for %s", clicks.Rows[i], clicked)
		}
	}
	for path, code := range map[string]int{
		"url-clicks?range=7d":                http.StatusBadRequest,
		"url-urls?range=7d&receipt=rejected": http.StatusBadRequest,
		"no-such-panel?range=7d":             http.StatusNotFound,
		"url-clicks?range=7d&url=%27%3B--":   http.StatusOK, // a value is an argument, never SQL
	} {
		if rec := f.get(t, "/api/v1/dashboards/ttp/panels/"+path); rec.Code != code {
			t.Errorf("%s: status %d, want %d: %s", path, rec.Code, code, rec.Body)
		}
	}
	rec := f.get(t, "/api/v1/dashboards/ttp/panels/attachment-results?range=7d&format=csv")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Disposition"), "ttp-attachment-results-7d.csv") {
		t.Fatalf("csv: status %d, disposition %q", rec.Code, rec.Header().Get("Content-Disposition"))
	}
	records, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	js := f.panel(t, "ttp", "attachment-results", url.Values{"range": {"7d"}})
	if len(records) != len(js.Rows)+1 || records[0][0] != "Result" || records[0][1] != "Count" {
		t.Fatalf("csv %v, JSON rows %v", records, js.Rows)
	}
	for i := range js.Rows {
		if records[i+1][0] != js.str(i, 0) || records[i+1][1] != js.str(i, 1) {
			t.Errorf("csv row %d %v, JSON %v", i, records[i+1], js.Rows[i])
		}
	}
}
