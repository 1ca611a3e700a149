package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

// keySet is the sorted, comma-joined key set of a record.
func keySet(rec map[string]any) string {
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}

// corpusShapes reads the NDJSON corpus files and returns the key sets of their records by group (the "type"
// field when there is one, else the file's group name). API envelopes ("meta") are left out.
func corpusShapes(t *testing.T, files map[string]string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for file, group := range files {
		f, err := os.Open(filepath.Join(testutil.CorpusDir(t), file))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil || rec["meta"] != nil {
				continue
			}
			g := group
			if typ, ok := rec["type"].(string); ok {
				g = typ
			}
			if k := keySet(rec); !slices.Contains(out[g], k) {
				out[g] = append(out[g], k)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// varietyCheck is one kind of record the SEG and TTP dashboards need: it must occur in a week of mail.
type varietyCheck struct {
	name  string
	group string // SIEM type or log function path
	match func(map[string]any) bool
}

var varietyChecks = []varietyCheck{
	{"receipt rejected at the envelope", "receipt", func(r map[string]any) bool {
		return r["action"] == "Rej" && r["messageId"] == nil && r["rejectionType"] != nil && r["rejectionCode"] == "550"
	}},
	{"receipt rejected as spam", "receipt", func(r map[string]any) bool {
		return r["action"] == "Rej" && r["spamInfo"] != nil && r["spamInfo"] != "[]"
	}},
	{"receipt rejected for a virus", "receipt", func(r map[string]any) bool {
		return r["rejectionType"] == "Virus Signature Detection" && r["virusFound"] != nil
	}},
	{"receipt accepted without TLS", "receipt", func(r map[string]any) bool { return r["action"] == "Acc" && r["tlsVersion"] == nil }},
	{"receipt accepted over TLS 1.2", "receipt", func(r map[string]any) bool { return r["action"] == "Acc" && r["tlsVersion"] == "TLSv1.2" }},
	{"message held as spam", "process", func(r map[string]any) bool { return r["holdReason"] == "Spm" }},
	{"outbound delivery failure", "delivery", func(r map[string]any) bool {
		return r["delivered"] == "false" && r["direction"] == "Outbound" && r["deliveryErrors"] != nil && r["rejectionType"] != nil
	}},
	{"inbound delivery failure", "delivery", func(r map[string]any) bool { return r["delivered"] == "false" && r["direction"] == "Inbound" }},
	{"delivery without TLS", "delivery", func(r map[string]any) bool {
		return r["delivered"] == "true" && r["tlsUsed"] == "No" && r["tlsVersion"] == nil
	}},
	{"journal", "journal", func(map[string]any) bool { return true }},
	{"internal email protect", "internal email protect", func(map[string]any) bool { return true }},
	{"spam", "spam", func(map[string]any) bool { return true }},
	{"anti-virus", "av", func(r map[string]any) bool { return r["virusFound"] != nil }},
	{"malicious URL click", PathTTPURL, func(r map[string]any) bool { return r["scanResult"] == "malicious" && r["action"] == "block" }},
	{"clean URL click", PathTTPURL, func(r map[string]any) bool { return r["scanResult"] == "clean" && r["action"] == "allow" }},
	{"malicious attachment", PathTTPAttachment, func(r map[string]any) bool { return r["result"] == "malicious" }},
	{"safe attachment", PathTTPAttachment, func(r map[string]any) bool { return r["result"] == "safe" }},
	{"impersonation held", PathTTPImpersonation, func(r map[string]any) bool { return r["action"] == "hold" && r["taggedMalicious"] == true }},
	{"impersonation tagged malicious", PathTTPImpersonation, func(r map[string]any) bool {
		return r["action"] == "none" && r["hits"] == 1 && r["taggedMalicious"] == true
	}},
	{"impersonation tagged, not malicious", PathTTPImpersonation, func(r map[string]any) bool { return r["taggedMalicious"] == false }},
}

// legacyChecks are the same facts in the API 1.0 SIEM records (key_value field names).
var legacyChecks = []varietyCheck{
	{"legacy envelope rejection", "receipt", func(r map[string]any) bool {
		return r["Act"] == "Rej" && r["RejType"] != nil && r["RejCode"] == "550" && r["RejInfo"] != nil && r["MsgId"] == nil
	}},
	{"legacy receipt without TLS", "receipt", func(r map[string]any) bool { return r["Act"] == "Acc" && r["TlsVer"] == nil }},
	{"legacy failed delivery", "delivery", func(r map[string]any) bool {
		return r["Delivered"] == false && r["Err"] != nil && r["RejType"] != nil && r["ReceiptAck"] == nil
	}},
	{"legacy delivery without TLS", "delivery", func(r map[string]any) bool { return r["Delivered"] == true && r["UseTls"] == "No" }},
}

// TestSEGAndTTPVariety checks that a week of a 50-mailbox tenant holds every kind of record the SEG and TTP
// dashboards show (rejections, spam, viruses, mail without TLS, failed deliveries, journal, internal email
// protect, malicious and clean TTP results), and that each SIEM event and TTP log record has the key set of a
// real record of its kind.
func TestSEGAndTTPVariety(t *testing.T) {
	t.Parallel()
	s := mustSim(t, Options{Seed: 71, Mailboxes: 50, Days: 7})
	shapes := corpusShapes(t, map[string]string{
		"siem_logs/test-siem-v2-logs.log":    "",
		"ttp_url_logs/test-ttp-url-logs.log": PathTTPURL,
		"ttp_ap_logs/test-ttp-ap-logs.log":   PathTTPAttachment,
		"ttp_ip_logs/test-ttp-ip-logs.log":   PathTTPImpersonation,
		"dlp_logs/test-dlp-logs.log":         PathDLP,
	})
	counts := map[string]int{}
	badShapes := map[string]string{}
	samples := map[string]bool{}
	count := func(group string, rec map[string]any, checks []varietyCheck, ingest func() error) {
		for _, c := range checks {
			if c.group != group || !c.match(rec) {
				continue
			}
			counts[c.name]++
			if !samples[c.name] {
				samples[c.name] = true
				if err := ingest(); err != nil {
					t.Errorf("%s: castwatch cannot read it: %v", c.name, err)
				}
			}
		}
	}
	from := testNow.Add(-7 * 24 * time.Hour)
	for h := floorDiv(from.Unix(), 3600); h <= floorDiv(testNow.Unix(), 3600); h++ {
		mh := s.mailFlow(h)
		for _, src := range []map[string][]logRec{mh.siem, mh.logs} {
			for group, list := range src {
				for _, lr := range list {
					count(group, lr.rec, varietyChecks, func() error { return decodeOne(group, lr.rec) })
					if want, ok := shapes[group]; ok && !slices.Contains(want, keySet(lr.rec)) {
						badShapes[group] = keySet(lr.rec)
					}
				}
			}
		}
		for group, list := range mh.siem {
			for _, lr := range list {
				kvs := s.legacyRecord(group, lr.rec)
				legacy := map[string]any{}
				for _, kv := range kvs {
					legacy[kv.Key] = kv.Value
				}
				count(group, legacy, legacyChecks, func() error { return decodeLegacy(group, kvs) })
			}
		}
	}
	for _, c := range append(slices.Clone(varietyChecks), legacyChecks...) {
		if counts[c.name] == 0 {
			t.Errorf("no %s in a week of 50 mailboxes", c.name)
		}
	}
	for group, got := range badShapes {
		t.Errorf("%s record with keys %s; real records have %q", group, got, shapes[group])
	}
	t.Logf("counts: %v", counts)
}

// logTables are the stored tables of the mail-log functions.
var logTables = map[string]*schema.Table{
	PathTTPURL: &schema.TtpURL, PathTTPAttachment: &schema.TtpAttachment, PathTTPImpersonation: &schema.TtpImpersonation,
}

// decodeOne stores one SIEM event or mail-log record the way castwatch's ingest does.
func decodeOne(group string, rec map[string]any) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	table := logTables[group]
	if table == nil {
		table = &schema.SegCg
	}
	_, err = table.Decode("t1", raw, testNow)
	return err
}

// decodeLegacy reads one API 1.0 record from its key_value line the way castwatch's legacy collector does.
func decodeLegacy(group string, kvs []KV) error {
	line := LegacyFile{Records: [][]KV{kvs}}.Lines()[0]
	rec := parse.ParseSIEMLine(line)
	if len(rec.Issues) > 0 || rec.Type != group {
		return fmt.Errorf("line %q read as %q with issues %v", line, rec.Type, rec.Issues)
	}
	raw, err := parse.SIEMv1Record(rec, "acc")
	if err != nil {
		return err
	}
	_, err = schema.SegCg.Decode("t1", raw, testNow)
	return err
}

// TestDeliveryDestinations checks where deliveries go: inbound and internal mail to the tenant's own servers,
// outbound mail to one server per recipient domain, spread over several public /8 ranges (so the outbound
// delivery map and the email-country models see more than the tenant's country).
func TestDeliveryDestinations(t *testing.T) {
	t.Parallel()
	s := mustSim(t, Options{Seed: 71, Mailboxes: 50, Days: 3})
	byDomain := map[string]string{}
	ranges := map[string]bool{}
	outbound := 0
	from := testNow.Add(-3 * 24 * time.Hour)
	for h := floorDiv(from.Unix(), 3600); h <= floorDiv(testNow.Unix(), 3600); h++ {
		for _, lr := range s.mailFlow(h).siem["delivery"] {
			dest, _ := lr.rec["destinationIp"].(string)
			rcpt, _ := lr.rec["recipients"].(string)
			switch lr.rec["direction"] {
			case "Outbound":
				outbound++
				if dest == s.hq {
					t.Fatalf("outbound delivery to %s went to the tenant's own server %s", rcpt, dest)
				}
				d := rcpt[strings.LastIndex(rcpt, "@")+1:]
				if was, ok := byDomain[d]; ok && was != dest {
					t.Fatalf("%s's mail server is %s and %s", d, was, dest)
				}
				byDomain[d] = dest
				ranges[dest[:strings.Index(dest, ".")]] = true
			default:
				if dest != s.hq {
					t.Fatalf("%v delivery to %s went to %s, not the tenant's server %s", lr.rec["direction"], rcpt, dest, s.hq)
				}
			}
		}
	}
	if outbound == 0 || len(byDomain) < 5 || len(ranges) < 3 {
		t.Errorf("%d outbound deliveries to %d domains in %d /8 ranges: want several of each", outbound, len(byDomain), len(ranges))
	}
}
