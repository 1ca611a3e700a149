package web

// Tests of the SEG workbook against the shared simulated store (simstore_test.go). Every expected value is
// computed here in Go from the stored rows (the simulator's records as decoded), never with the panels' SQL.
//
// The simulated gateway accepts every message over TLS and delivers all it does not hold, so the store gets a
// few hand-made Cloud Gateway records (segExtraRecords) for what it never produces: rejections and bounces, a
// virus rejected at receipt, spam information, receipt without TLS, failed and non-TLS deliveries, and the
// lower-case direction and delivered values Mimecast also sends.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// segExtraRecords are Cloud Gateway records the simulator does not produce; ago is their age at fixtureNow.
var segExtraRecords = []struct {
	ago time.Duration
	rec string
}{
	{2 * time.Hour, `{"type":"receipt","action":"Rej","subtype":"Rej","direction":"Inbound","senderIp":"81.2.69.144",
		"senderEnvelope":"bulk@spam-cannon.example","recipients":"a@example.com","rejectionType":"Manual Envelope Rejection",
		"rejectionCode":"550","rejectionInfo":"Envelope blocked - User Entry","tlsVersion":"TLSv1.3","spamInfo":"[]"}`},
	{3 * time.Hour, `{"type":"receipt","action":"BNC","subtype":"Bnc","direction":"Inbound","senderIp":"104.20.1.9",
		"senderEnvelope":"x@virus.example","recipients":"b@example.com","rejectionType":"Virus Signature Detection",
		"virusFound":"Eicar-Test-Signature","tlsVersion":"TLSv1.2","tlsCipher":"ECDHE-RSA-AES256-GCM-SHA384"}`},
	{30 * time.Hour, `{"type":"receipt","action":"rej","subtype":"Rej","direction":"inbound","senderIp":"185.7.7.7",
		"senderEnvelope":"promo@spam-cannon.example","recipients":"c@example.com","rejectionType":"Spam Signature",
		"spamInfo":"[\"RBL: zen.spamhaus.org\"]"}`},
	{10 * time.Hour, `{"type":"receipt","action":"Rej","subtype":"Rej","direction":"Inbound","senderIp":"5.188.1.1",
		"senderEnvelope":"deals@spam-cannon.example","recipients":"a@example.com","rejectionType":"Spam Signature",
		"spamInfo":"[\"Spam score 95\"]","tlsVersion":"TLSv1.3"}`},
	{4 * time.Hour, `{"type":"receipt","action":"Acc","subtype":"Acc","direction":"Inbound","senderIp":"52.1.2.3",
		"senderEnvelope":"old@plain-smtp.example","recipients":"d@example.com"}`},
	{50 * time.Hour, `{"type":"receipt","action":"RTY","subtype":"Rty","direction":"Inbound","senderIp":"40.9.9.9",
		"senderEnvelope":"retry@Plain-SMTP.example","recipients":"e@example.com","tlsVersion":""}`},
	{5 * time.Hour, `{"type":"delivery","delivered":"false","direction":"Outbound","route":"Outbound","destinationIp":"203.0.113.5",
		"recipients":"f@far-away.example","rejectionType":"Recipient Rejected","rejectionCode":"550",
		"deliveryErrors":"550 5.1.1 no such user","tlsUsed":"Yes","tlsVersion":"TLSv1.3"}`},
	{6 * time.Hour, `{"type":"delivery","delivered":"False","direction":"inbound","route":"Inbound","destinationIp":"10.0.0.5",
		"recipients":"g@example.com","rejectionType":"Mailbox Full","deliveryErrors":"452 4.2.2 over quota"}`},
	{7 * time.Hour, `{"type":"delivery","delivered":"true","direction":"outbound","route":"Outbound","destinationIp":"209.85.1.1",
		"recipients":"h@No-TLS.example","tlsUsed":"No","Hostname":"mx.no-tls.example"}`},
	{8 * time.Hour, `{"type":"process","action":"Hld","subtype":"Hld","holdReason":"Spm","senderEnvelope":"p@spam-cannon.example"}`},
}

var (
	segExtrasOnce sync.Once
	segExtraRows  []fixRow
	segExtrasErr  error
)

// segFixture returns the shared fixture with segExtraRecords stored (once per test binary) and every
// Seg_Cg_CL row the store holds.
func segFixture(t testing.TB) (*simFixture, []fixRow) {
	t.Helper()
	f := loadSimFixture(t)
	segExtrasOnce.Do(func() { segExtraRows, segExtrasErr = storeSegExtras(f) })
	if segExtrasErr != nil {
		t.Fatalf("SEG extra records: %v", segExtrasErr)
	}
	return f, append(slices.Clone(f.rows(t, "Seg_Cg_CL")), segExtraRows...)
}

func storeSegExtras(f *simFixture) ([]fixRow, error) {
	var rows []schema.Row
	var out []fixRow
	for i, x := range segExtraRecords {
		var m map[string]any
		if err := json.Unmarshal([]byte(x.rec), &m); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		m["timestamp"] = f.Now.Add(-x.ago).UnixMilli()
		m["accountId"], m["aggregateId"] = "CUSAEXTRA", fmt.Sprintf("extra-agg-%d", i)
		m["processingId"], m["messageId"] = fmt.Sprintf("extra-proc-%d", i), fmt.Sprintf("<extra-%d@test.example>", i)
		raw, _ := json.Marshal(m)
		row, err := schema.SegCg.Decode(fixtureTenant, raw, f.Now)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		rows = append(rows, row)
		out = append(out, fixRow{&schema.SegCg, row})
	}
	if n, err := f.DB.WriteRows(context.Background(), &schema.SegCg, rows); err != nil || n != len(rows) {
		return nil, fmt.Errorf("wrote %d of %d rows: %v", n, len(rows), err)
	}
	return out, nil
}

// rowPred selects stored rows.
type rowPred func(r fixRow) bool

// rowKey labels a row (a series, a bar, a country); ok false leaves the row out.
type rowKey func(r fixRow) (string, bool)

// panelSpec is one panel and how to compute its answer from the stored rows.
type panelSpec struct {
	panel string
	q     url.Values // drill-down values
	rows  func(t testing.TB) []fixRow
	when  func(r fixRow) time.Time
	pred  rowPred
	key   rowKey // series, label or country; nil for tiles and plain tables
	// keys, when set instead of key, counts a row once per label (the elements of a JSON array).
	keys func(r fixRow) []string
}

// expect counts the rows the spec selects in a range, by key ("" without a key) and by time bucket.
func (s panelSpec) expect(t testing.TB, f *simFixture, rng string, bucket time.Duration) (map[string]int, map[[2]string]int) {
	byKey, byBucket := map[string]int{}, map[[2]string]int{}
	for _, r := range s.rows(t) {
		at := s.when(r)
		if !f.inRange(at, rng) || !s.pred(r) {
			continue
		}
		keys := []string{""}
		switch {
		case s.keys != nil:
			keys = s.keys(r)
		case s.key != nil:
			k, ok := s.key(r)
			if !ok {
				continue
			}
			keys[0] = k
		}
		for _, k := range keys {
			byKey[k]++
			byBucket[[2]string{at.Truncate(bucket).Format(time.RFC3339), k}]++
		}
	}
	return byKey, byBucket
}

// check requests the panel for a range and compares it with the rows, by kind. It returns the expected total.
func (s panelSpec) check(t *testing.T, f *simFixture, dash string, kind PanelKind, rng string) int {
	t.Helper()
	q := url.Values{"range": {rng}}
	for k, v := range s.q {
		q[k] = v
	}
	res := f.panel(t, dash, s.panel, q)
	bucket := day
	if res.Bucket == "hour" {
		bucket = time.Hour
	}
	want, wantBuckets := s.expect(t, f, rng, bucket)
	total := 0
	for _, n := range want {
		total += n
	}
	name := dash + "/" + s.panel + "?" + q.Encode()
	switch kind {
	case KindTile:
		if len(res.Rows) != 1 || res.num(0, 0) != float64(total) {
			t.Errorf("%s: tile %v, want %d", name, res.Rows, total)
		}
	case KindTable:
		if s.key != nil { // a grid of counts per label (column 0), the count in column 1
			got := map[string]int{}
			for i := range res.Rows {
				got[res.str(i, 0)] = int(res.num(i, 1))
			}
			compareCounts(t, name, got, want)
		} else if len(res.Rows) != total {
			t.Errorf("%s: %d rows, want %d", name, len(res.Rows), total)
		}
	case KindTimeseries, KindStackedBar:
		got := map[[2]string]int{}
		for i := range res.Rows {
			if n := int(res.num(i, 2)); n != 0 {
				got[[2]string{res.str(i, 0), res.str(i, 1)}] = n
			}
		}
		compareCounts(t, name, got, wantBuckets)
	case KindBar:
		compareCounts(t, name, intCounts(res.counts()), topN(want, 10, false))
	case KindPie:
		compareCounts(t, name, intCounts(res.counts()), topN(want, pieSlices, true))
	case KindMap:
		compareCounts(t, name, intCounts(res.counts()), want)
	default:
		t.Fatalf("%s: no check for kind %s", name, kind)
	}
	return total
}

func intCounts(m map[string]float64) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(v)
	}
	return out
}

// topN keeps the n largest counts (ties by label), and with other sums the rest as "Other", like the charts.
func topN(m map[string]int, n int, other bool) map[string]int {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := map[string]int{}
	for i, k := range keys {
		switch {
		case i < n:
			out[k] = m[k]
		case other:
			out[otherLabel] += m[k]
		}
	}
	return out
}

func compareCounts[K comparable](t *testing.T, name string, got, want map[K]int) {
	t.Helper()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %v = %d, want %d", name, k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %v = %d", name, k, n)
		}
	}
}

// Row predicates and keys over Seg_Cg_CL, written from the workbook's filters (case-insensitive where the
// dashboard fixes the workbook).
func segType(lt string) rowPred { return func(r fixRow) bool { return r.str("Logtype") == lt } }

func both(a, b rowPred) rowPred { return func(r fixRow) bool { return a(r) && b(r) } }

func is(col string, values ...string) rowPred {
	return func(r fixRow) bool {
		for _, v := range values {
			if strings.EqualFold(r.str(col), v) {
				return true
			}
		}
		return false
	}
}

func colKey(col string) rowKey { return func(r fixRow) (string, bool) { return r.str(col), true } }

func nonEmptyKey(col string) rowKey {
	return func(r fixRow) (string, bool) { return r.str(col), r.str(col) != "" }
}

func noneKey(col string) rowKey {
	return func(r fixRow) (string, bool) {
		if v := r.str(col); v != "" {
			return v, true
		}
		return "None", true
	}
}

func domainKey(col string) rowKey {
	return func(r fixRow) (string, bool) {
		_, d, _ := strings.Cut(r.str(col), "@")
		return strings.ToLower(d), d != ""
	}
}

func countryKey(col string) rowKey {
	return func(r fixRow) (string, bool) {
		if c, ok := fakeCountry(r.str(col)); ok {
			return c, true
		}
		return unknownCountry, true
	}
}

var (
	segAcceptedRow  = is("action", "acc", "rty")
	segRejectedRow  = is("action", "rej", "bnc")
	segNoTLSRcptRow = both(segAcceptedRow, func(r fixRow) bool { return r.str("tlsVersion") == "" })
	segDeliveredRow = is("delivered", "true")
	segFailedRow    = is("delivered", "false")
	segNoTLSDlvRow  = both(segDeliveredRow, is("tlsUsed", "no"))
	segSpamInfoRow  = func(r fixRow) bool { return r.str("spamInfo") != "" && r.str("spamInfo") != "[]" }
	anyRow          = func(fixRow) bool { return true }
)

// segSpecs are every SEG panel (drill-down tables once per tile value) with their expected rows.
func segSpecs() map[string]panelSpec {
	var cgRows func(testing.TB) []fixRow
	cg := func(typ string, pred rowPred, key rowKey) panelSpec {
		return panelSpec{rows: func(t testing.TB) []fixRow { return cgRows(t) },
			when: func(r fixRow) time.Time { return r.timeMs("timestamp") }, pred: both(segType(typ), pred), key: key}
	}
	dlp := func(key rowKey) panelSpec {
		return panelSpec{rows: func(t testing.TB) []fixRow { return loadSimFixture(t).rows(t, "Seg_Dlp_CL") },
			when: func(r fixRow) time.Time { return r.time("eventTime") }, pred: anyRow, key: key}
	}
	specs := map[string]panelSpec{
		"email-traffic":     cg(segDelivery, anyRow, colKey("direction")),
		"rejections":        cg(segReceipt, anyRow, nonEmptyKey("rejectionType")),
		"delivery-failures": cg(segDelivery, anyRow, nonEmptyKey("rejectionType")),
		"held":              cg(segProcess, anyRow, nonEmptyKey("holdReason")),

		"received":             cg(segReceipt, anyRow, nil),
		"accepted":             cg(segReceipt, segAcceptedRow, nil),
		"rejected":             cg(segReceipt, segRejectedRow, nil),
		"accepted-without-tls": cg(segReceipt, segNoTLSRcptRow, nil),
		"accepted-by-route":    cg(segReceipt, segAcceptedRow, colKey("direction")),
		"accepted-by-country":  cg(segReceipt, segAcceptedRow, countryKey("senderIp")),
		"rejected-by-country":  cg(segReceipt, segRejectedRow, countryKey("senderIp")),

		"delivered":             cg(segDelivery, segDeliveredRow, nil),
		"outbound-failures":     cg(segDelivery, both(segFailedRow, is("direction", "outbound")), nil),
		"inbound-failures":      cg(segDelivery, both(segFailedRow, is("direction", "inbound")), nil),
		"delivered-without-tls": cg(segDelivery, segNoTLSDlvRow, nil),
		"delivered-by-route":    cg(segDelivery, segDeliveredRow, colKey("direction")),
		"delivery-events":       cg(segDelivery, anyRow, nil),
		"delivered-by-country":  cg(segDelivery, both(segDeliveredRow, is("direction", "outbound")), countryKey("destinationIp")),

		"antivirus-traffic": cg(segAntivirus, anyRow, colKey("route")),
		"viruses-rejected":  cg(segReceipt, is("rejectionType", "Virus Signature Detection"), nil),
		"rejected-as-spam":  cg(segReceipt, segSpamInfoRow, nil),
		"held-as-spam":      cg(segProcess, func(r fixRow) bool { return r.str("holdReason") == "Spm" }, nil),
		"virus-messages":    cg(segReceipt, func(r fixRow) bool { return r.str("virusFound") != "" }, nil),
		"spam-messages":     cg(segReceipt, segSpamInfoRow, nil),

		"tls-delivery":                  cg(segDelivery, segDeliveredRow, colKey("tlsUsed")),
		"tls-versions-delivery":         cg(segDelivery, anyRow, noneKey("tlsVersion")),
		"tls-versions-receipt":          cg(segReceipt, anyRow, noneKey("tlsVersion")),
		"delivery-ciphers":              cg(segDelivery, anyRow, noneKey("tlsCipher")),
		"receipt-ciphers":               cg(segReceipt, anyRow, noneKey("tlsCipher")),
		"recipient-domains-without-tls": cg(segDelivery, segNoTLSDlvRow, domainKey("recipients")),
		"sender-domains-without-tls":    cg(segReceipt, segNoTLSRcptRow, domainKey("senderEnvelope")),

		"spam-by-route":   cg(segSpam, anyRow, colKey("route")),
		"spam-events":     cg(segSpam, anyRow, nil),
		"spam-by-country": cg(segSpam, anyRow, countryKey("senderIp")),

		"iep-by-route": cg(segIEP, anyRow, colKey("route")),
		"iep-events":   cg(segIEP, anyRow, nil),

		"journal-by-direction": cg(segJournal, anyRow, colKey("direction")),
		"journal-events":       cg(segJournal, anyRow, nil),

		"dlp-events":    dlp(colKey("action")),
		"dlp-by-route":  dlp(nonEmptyKey("route")),
		"dlp-by-action": dlp(nonEmptyKey("action")),
		"dlp-by-policy": dlp(nonEmptyKey("policy")),
	}
	// A details table shows the records of the tile that set its parameter.
	for details, tiles := range map[string][]string{
		"receipt-details":  {"received", "accepted", "rejected", "accepted-without-tls"},
		"delivery-details": {"delivered", "outbound-failures", "inbound-failures", "delivered-without-tls"},
		"avas-details":     {"viruses-rejected", "rejected-as-spam", "held-as-spam"},
	} {
		param := map[string]string{"receipt-details": segReceiptParam, "delivery-details": segDeliveryParam, "avas-details": segAVASParam}[details]
		for _, tile := range tiles {
			s := specs[tile]
			s.q = url.Values{param: {tile}}
			specs[details+"/"+tile] = s
		}
	}
	cgRows = func(t testing.TB) []fixRow {
		_, rows := segFixture(t)
		return rows
	}
	return specs
}

// checkDashboard checks every panel of a dashboard against its spec in several ranges, and that every panel
// has a spec. It returns the expected totals per panel and range.
func checkDashboard(t *testing.T, f *simFixture, dash string, specs map[string]panelSpec, ranges ...string) map[string]int {
	d, ok := findDashboard(dashboards(), dash)
	if !ok {
		t.Fatalf("no dashboard %s", dash)
	}
	kinds := map[string]PanelKind{}
	for _, tab := range d.Tabs {
		for _, p := range tab.Panels {
			kinds[p.ID] = p.Kind
			if _, ok := specs[p.ID]; !ok && len(p.Needs) == 0 {
				t.Errorf("%s/%s has no expected value", dash, p.ID)
			}
		}
	}
	totals := map[string]int{}
	for id, s := range specs {
		panelID, _, _ := strings.Cut(id, "/")
		s.panel = panelID
		kind, ok := kinds[panelID]
		if !ok {
			t.Errorf("%s has no panel %s", dash, panelID)
			continue
		}
		for _, rng := range ranges {
			totals[id+"@"+rng] = s.check(t, f, dash, kind, rng)
		}
	}
	return totals
}

// TestSEGPanels checks every SEG panel against counts computed from the stored records, for three ranges, and
// that the range changes the counts.
func TestSEGPanels(t *testing.T) {
	f, _ := segFixture(t)
	totals := checkDashboard(t, f, "seg", segSpecs(), "1h", "1d", "7d")
	for _, id := range []string{"received", "rejected", "delivered", "rejected-as-spam", "delivery-events", "dlp-events"} {
		if totals[id+"@1d"] == 0 || totals[id+"@1d"] >= totals[id+"@7d"] {
			t.Errorf("%s: %d in 1d, %d in 7d: the range does not change the count", id, totals[id+"@1d"], totals[id+"@7d"])
		}
	}
	if totals["received@1h"] >= totals["received@1d"] {
		t.Errorf("received: %d in 1h, %d in 1d", totals["received@1h"], totals["received@1d"])
	}
	// The hand-made records make the panels the simulator leaves empty non-trivial.
	for _, id := range []string{"rejected", "accepted-without-tls", "outbound-failures", "inbound-failures",
		"delivered-without-tls", "viruses-rejected", "rejected-as-spam", "virus-messages", "rejections"} {
		if totals[id+"@7d"] == 0 {
			t.Errorf("%s: expected count is 0; the check proves nothing", id)
		}
	}
	t.Logf("7d: received %d, accepted %d, rejected %d, delivered %d, spam events %d, DLP events %d",
		totals["received@7d"], totals["accepted@7d"], totals["rejected@7d"], totals["delivered@7d"],
		totals["spam-events@7d"], totals["dlp-events@7d"])
}

// TestSEGDrillDown follows a tile click: the tile announces its parameter and value, the details table waits for
// it (400 without it), refuses a value no tile sets, and lists exactly the tile's records.
func TestSEGDrillDown(t *testing.T) {
	f, rows := segFixture(t)
	tile := f.panel(t, "seg", "rejected", url.Values{"range": {"7d"}})
	if tile.Drill == nil || tile.Drill.Param != segReceiptParam || tile.Drill.Value != "rejected" {
		t.Fatalf("rejected tile drill %+v", tile.Drill)
	}
	for _, q := range []string{"range=7d", "range=7d&receipt=everything", "range=7d&delivery=delivered"} {
		if rec := f.get(t, "/api/v1/dashboards/seg/panels/receipt-details?"+q); rec.Code != http.StatusBadRequest {
			t.Errorf("receipt-details?%s: status %d, want 400: %s", q, rec.Code, rec.Body)
		}
	}
	res := f.panel(t, "seg", "receipt-details", url.Values{"range": {"7d"}, tile.Drill.Param: {tile.Drill.Value}})
	var want []string
	for _, r := range rows {
		if r.str("Logtype") == segReceipt && segRejectedRow(r) && f.inRange(r.timeMs("timestamp"), "7d") {
			want = append(want, r.str("processingId"))
		}
	}
	col := slices.Index(res.Columns, "Processing ID")
	var got []string
	for i := range res.Rows {
		got = append(got, res.str(i, col))
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("receipt-details for rejected: %v, want %v", got, want)
	}
	if res.Title != "Received Messages: rejected" {
		t.Errorf("title %q", res.Title)
	}
}

// TestSEGTrendAndCSV checks the Rejections grid's trend (one count per bucket of the window, summing to the
// count) and the CSV export of the Message Delivery Events table.
func TestSEGTrendAndCSV(t *testing.T) {
	f, _ := segFixture(t)
	res := f.panel(t, "seg", "rejections", url.Values{"range": {"2d"}})
	if len(res.Rows) == 0 {
		t.Fatal("no rejections in 2d")
	}
	for i, row := range res.Rows {
		trend, ok := row[2].([]any)
		if !ok || len(trend) != 49 { // 2 days of hours, the first one partial
			t.Fatalf("row %d trend %v (%T), want 49 hourly counts", i, row[2], row[2])
		}
		sum := 0.0
		for _, v := range trend {
			sum += v.(float64)
		}
		if sum != res.num(i, 1) {
			t.Errorf("%s: trend sums to %v, count %v", res.str(i, 0), sum, res.num(i, 1))
		}
	}

	rec := f.get(t, "/api/v1/dashboards/seg/panels/delivery-events?range=1d&format=csv")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, `seg-delivery-events-1d.csv`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	records, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	js := f.panel(t, "seg", "delivery-events", url.Values{"range": {"1d"}})
	if len(records) != len(js.Rows)+1 || !slices.Equal(records[0], js.Columns) {
		t.Fatalf("csv has %d records (header %v), JSON %d rows (columns %v)", len(records), records[0], len(js.Rows), js.Columns)
	}
	col := slices.Index(js.Columns, "Processing ID")
	for i := range js.Rows {
		if records[i+1][col] != js.str(i, col) {
			t.Fatalf("csv row %d: %v, JSON %v", i, records[i+1], js.Rows[i])
		}
	}
}
