package normalize

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

// elasticCompare is one field compared between our first event of a record and Elastic's document.
type elasticCompare struct {
	// name is the field in the difference key "<stream>/<record>/<name>".
	name string
	// path is the dotted path of the Elastic field; a list or a single value.
	path string
	// ours returns our value(s) for the field.
	ours func(ev schema.Event) []string
	// member: ours (one value) must be one of Elastic's values, rather than the lists being equal.
	member bool
}

var (
	cmpTime = elasticCompare{name: "time", path: "@timestamp", ours: func(ev schema.Event) []string {
		return []string{ev.Time.UTC().Format(time.RFC3339Nano)}
	}}
	cmpSender = elasticCompare{name: "sender", path: "email.from.address", member: true,
		ours: func(ev schema.Event) []string { return nonEmpty(ev.Sender) }}
	cmpRecipients = elasticCompare{name: "recipients", path: "email.to.address",
		ours: func(ev schema.Event) []string { return ev.Recipients }}
	cmpSrcIP = elasticCompare{name: "src_ip", path: "source.ip",
		ours: func(ev schema.Event) []string { return nonEmpty(ev.SrcIP) }}
	cmpMessageID = elasticCompare{name: "message_id", path: "email.message_id",
		ours: func(ev schema.Event) []string { return nonEmpty(ev.MessageID) }}
	cmpDirection = elasticCompare{name: "direction", path: "email.direction",
		ours: func(ev schema.Event) []string { return nonEmpty(ev.Direction) }}
	cmpPolicy = elasticCompare{name: "policy", path: "rule.name",
		ours: func(ev schema.Event) []string { return nonEmpty(ev.Policy) }}
	cmpEventAction = elasticCompare{name: "action", path: "event.action",
		ours: func(ev schema.Event) []string { return nonEmpty(ev.Action) }}
	cmpUserEmail = elasticCompare{name: "user", path: "user.email",
		ours: func(ev schema.Event) []string { return nonEmpty(ev.UserEmail) }}
	cmpSubject = elasticCompare{name: "subject", path: "email.subject",
		ours: func(ev schema.Event) []string { return nonEmpty(ev.Subject) }}
)

// elasticStreams lists the corpus streams that have Elastic's expected output, and the fields compared. A field
// Elastic has no value for in the whole stream is not compared (e.g. Elastic writes no event.outcome for any of
// these streams, no action for Cloud Integrated records and no user for DLP, attachment or impersonation logs).
var elasticStreams = []struct {
	dir, input string
	table      *schema.Table
	release    bool
	fields     []elasticCompare
}{
	{"cloud_integrated_logs", "test-cloud-integrated-logs.log", &schema.CloudIntegrated, false,
		[]elasticCompare{cmpTime, cmpSender, cmpRecipients, cmpSrcIP, cmpMessageID, cmpDirection, cmpSubject,
			{name: "attachments", path: "email.attachments.file.name", ours: func(ev schema.Event) []string { return ev.AttachmentNames }}}},
	{"dlp_logs", "test-dlp-logs.log", &schema.SegDlp, false,
		[]elasticCompare{cmpTime, cmpSender, cmpRecipients, cmpMessageID, cmpDirection, cmpPolicy, cmpEventAction, cmpSubject}},
	{"ttp_ap_logs", "test-ttp-ap-logs.log", &schema.TtpAttachment, false,
		[]elasticCompare{cmpTime, cmpSender, cmpRecipients, cmpMessageID, cmpDirection, cmpPolicy, cmpSubject,
			{name: "action", path: "event.action", ours: func(ev schema.Event) []string { return nonEmpty(elasticActionSpelling(ev.Action)) }},
			{name: "hashes", path: "related.hash", ours: func(ev schema.Event) []string { return ev.AttachmentHashes }},
			{name: "file", path: "email.attachments.file.name", ours: func(ev schema.Event) []string { return ev.AttachmentNames }}}},
	{"ttp_ip_logs", "test-ttp-ip-logs.log", &schema.TtpImpersonation, false,
		[]elasticCompare{cmpTime, cmpSender, cmpRecipients, cmpSrcIP, cmpMessageID, cmpPolicy, cmpEventAction, cmpSubject,
			{name: "id", path: "event.id", ours: func(ev schema.Event) []string { return nonEmpty(ev.AlertID) }}}},
	{"ttp_url_logs", "test-ttp-url-logs.log", &schema.TtpURL, false,
		[]elasticCompare{cmpTime, cmpSender, cmpRecipients, cmpSrcIP, cmpMessageID, cmpDirection, cmpPolicy, cmpSubject,
			{name: "action", path: "mimecast.action", ours: func(ev schema.Event) []string { return nonEmpty(ev.Action) }},
			{name: "url", path: "url.original", ours: func(ev schema.Event) []string { return nonEmpty(ev.URL) }},
			{name: "user", path: "user.email", ours: func(ev schema.Event) []string { return nonEmpty(ev.UserEmail) }}}},
	{"archive_search_logs", "test-archive-search-logs.log", &schema.ArchiveSearch, false,
		[]elasticCompare{cmpTime, cmpUserEmail}},
	{"message_release_logs", "test-release-logs.json", &schema.MessageRelease, true,
		[]elasticCompare{cmpTime, cmpSender, cmpRecipients, cmpDirection, cmpUserEmail,
			{name: "subject", path: "mimecast.subject", ours: func(ev schema.Event) []string { return nonEmpty(ev.Subject) }},
			{name: "policy", path: "mimecast.policy", ours: func(ev schema.Event) []string { return nonEmpty(ev.Policy) }},
			{name: "action", path: "event.action", ours: func(ev schema.Event) []string { return nonEmpty(ev.Action) }},
			{name: "id", path: "event.id", ours: func(ev schema.Event) []string { s, _ := ev.Fields["id"].(string); return nonEmpty(s) }}}},
}

// elasticTableDisagreements lists, by "<stream>/<record>/<field>" (records numbered from 1 in file order), every
// difference between our events and Elastic's documents, with the reason ours is right. The test fails on an
// unlisted difference and on a listed one that no longer differs.
var elasticTableDisagreements = map[string]string{
	// "<>" is SMTP's null sender (bounces): there is no sender address, and an address field must not hold "<>".
	"ttp_ap_logs/1/sender": `null sender "<>" is no address`,
	"ttp_ap_logs/2/sender": `null sender "<>" is no address`,
	"ttp_ap_logs/3/sender": `null sender "<>" is no address`,
	// sendingIp is the address of the server that sent the message ("Internal IP" for internal mail), not of the
	// user who clicked: a click's web-activity has no source address. The mail-side events keep it (entry scans,
	// alerts), and the value stays in fields.sendingIp.
	"ttp_url_logs/1/src_ip": "a user click is not made from the sending mail server's address",
	"ttp_url_logs/2/src_ip": "a user click is not made from the sending mail server's address",
	"ttp_url_logs/3/src_ip": "a user click is not made from the sending mail server's address",
	// The released message's recipient (inbound) or sender (outbound) did not act; the operator did: the user of
	// an admin action is who performed it.
	"message_release_logs/1/user": "the operator released the message, not its recipient",
	"message_release_logs/2/user": "the operator released the message, not its sender",
	"message_release_logs/3/user": "the operator released the message, not its recipient",
	"message_release_logs/4/user": "the operator released the message, not its sender",
	// A release with no released time cannot be placed in time; schema rejects it (quarantined by the collector)
	// while Elastic indexes a document with no @timestamp.
	"message_release_logs/5/decode": "a release without a time is rejected, not indexed timeless",
}

func TestElasticTableComparison(t *testing.T) {
	found := map[string]string{}
	for _, st := range elasticStreams {
		t.Run(st.dir, func(t *testing.T) {
			dir := filepath.Join(testutil.CorpusDir(t), st.dir)
			var inputs []json.RawMessage
			if st.release {
				inputs = releaseRecords(t, filepath.Join(st.dir, st.input))
			} else {
				inputs = corpusFileLines(t, filepath.Join(st.dir, st.input))
			}
			expData, err := os.ReadFile(filepath.Join(dir, st.input+"-expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var exp struct {
				Expected []map[string]any `json:"expected"`
			}
			if err := json.Unmarshal(expData, &exp); err != nil {
				t.Fatal(err)
			}
			if len(inputs) != len(exp.Expected) {
				t.Fatalf("%d input records, %d expected documents", len(inputs), len(exp.Expected))
			}
			compared := 0
			for i, rec := range inputs {
				n := i + 1
				doc := exp.Expected[i]
				row, err := st.table.Decode("acme", rec, corpusIngested)
				if err != nil {
					if len(elasticValues(doc, "@timestamp")) > 0 || len(elasticValues(doc, "email")) > 0 {
						found[fmt.Sprintf("%s/%d/decode", st.dir, n)] = err.Error()
					}
					continue
				}
				evs := mapRow(t, st.table, row)
				if len(evs) == 0 {
					t.Fatalf("record %d gave no event", n)
				}
				ev := evs[0]
				for _, c := range st.fields {
					ours, theirs := ev2list(c.ours(ev)), ev2list(elasticValues(doc, c.path))
					if c.name == "time" {
						theirs = normTimes(theirs)
					}
					if !agree(ours, theirs, c.member) {
						found[fmt.Sprintf("%s/%d/%s", st.dir, n, c.name)] = fmt.Sprintf("ours %q, Elastic %q", ours, theirs)
					}
				}
				compared++
			}
			if compared == 0 {
				t.Fatal("no record compared")
			}
		})
	}
	var keys []string
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if reason, ok := elasticTableDisagreements[k]; ok {
			t.Logf("known difference %s: %s — %s", k, found[k], reason)
		} else {
			t.Errorf("unexplained difference %s: %s", k, found[k])
		}
	}
	for k := range elasticTableDisagreements {
		if _, ok := found[k]; !ok {
			t.Errorf("listed difference %s no longer differs; remove it", k)
		}
	}
}

// agree compares case-insensitively: equal lists, or (member) our single value among Elastic's.
func agree(ours, theirs []string, member bool) bool {
	if member && len(ours) == 1 {
		for _, v := range theirs {
			if strings.EqualFold(v, ours[0]) {
				return true
			}
		}
		return false
	}
	if len(ours) != len(theirs) {
		return false
	}
	for i := range ours {
		if !strings.EqualFold(ours[i], theirs[i]) {
			return false
		}
	}
	return true
}

// elasticValues returns the values at a dotted path of a document: a string or number as one value, a list as
// its items; a list of objects on the way is walked item by item.
func elasticValues(v any, path string) []string {
	if path == "" {
		switch x := v.(type) {
		case nil:
			return nil
		case string:
			return []string{x}
		case float64:
			return []string{fmt.Sprint(x)}
		case bool:
			return []string{fmt.Sprint(x)}
		case []any:
			var out []string
			for _, item := range x {
				out = append(out, elasticValues(item, "")...)
			}
			return out
		case map[string]any:
			return []string{"<object>"}
		}
		return nil
	}
	head, rest, _ := strings.Cut(path, ".")
	if head == "@timestamp" {
		head, rest = path, ""
	}
	switch x := v.(type) {
	case map[string]any:
		return elasticValues(x[head], rest)
	case []any:
		var out []string
		for _, item := range x {
			out = append(out, elasticValues(item, path)...)
		}
		return out
	}
	return nil
}

func ev2list(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return v
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// normTimes rewrites Elastic timestamps as RFC 3339 in UTC with the fraction our events keep.
func normTimes(vs []string) []string {
	out := make([]string, 0, len(vs))
	for _, s := range vs {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			out = append(out, "unparsable:"+s)
			continue
		}
		out = append(out, ts.UTC().Format(time.RFC3339Nano))
	}
	return out
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// elasticActionSpelling writes an attachment actionTriggered the way Elastic's event.action does
// ("user release, none" → "user_release_none"), so that the values themselves are compared.
func elasticActionSpelling(s string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(s), "_"), "_")
}
