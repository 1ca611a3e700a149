package normalize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

const ()

// elasticDoc is the part of an Elastic audit document we compare.
type elasticDoc struct {
	Timestamp string `json:"@timestamp"`
	Client    struct {
		IP string `json:"ip"`
	} `json:"client"`
	Event struct {
		ID      string `json:"id"`
		Action  string `json:"action"`
		Created string `json:"created"`
		Reason  string `json:"reason"`
	} `json:"event"`
	User struct {
		Email string `json:"email"`
	} `json:"user"`
	Mimecast struct {
		Application string `json:"application"`
		Method      string `json:"method"`
		TwoFA       string `json:"2FA"`
		RemoteIP    string `json:"remote_ip"`
	} `json:"mimecast"`
}

// elasticDisagreements lists, by "<record>/<field>" (records numbered from 1 in file order), every place where
// our normalization differs from Elastic's pipeline output, with the reason ours is right. The test fails on an
// unlisted difference and on a listed one that no longer differs.
var elasticDisagreements = map[string]string{
	// Elastic reads the zone name "BST" as Bougainville (+11:00); it is British Summer Time (+01:00): the
	// record's own eventTime (17:17:30Z) matches 18:17:30 BST only at +01:00.
	"3/event_time_info":  "BST is +01:00: eventTime 2021-10-11T17:17:30Z equals 18:17:30 BST",
	"4/event_time_info":  "BST is +01:00: eventTime 2021-10-11T17:17:26Z equals 18:17:26 BST",
	"5/event_time_info":  "BST is +01:00: eventTime 2021-10-11T16:03:38Z equals 17:03:38 BST",
	"13/event_time_info": "BST is +01:00: eventTime 2021-10-12T08:47:55Z equals 09:47:55 BST",
	"33/event_time_info": "BST is +01:00: eventTime 2024-07-01T12:56:25Z equals 13:56:25 BST",
	// In the space-separated layout Elastic drops the " +0100" offset and keeps the local clock as UTC.
	"6/event_time_info":  "the +0100 offset applies: eventTime 2021-10-11T15:39:17Z equals 16:39:17 +0100",
	"7/event_time_info":  "the +0100 offset applies: eventTime 2021-10-19T11:46:40Z equals 12:46:40 +0100",
	"17/event_time_info": "the +0100 offset applies: eventTime 2021-10-11T19:53:41Z equals 20:53:41 +0100",
	"18/event_time_info": "the +0100 offset applies: eventTime 2021-10-11T18:23:10Z equals 19:23:10 +0100",
	// Here Elastic ignored the zone name entirely; 19:33:05 BST (late March, UK summer time) is 18:33:05Z.
	"31/event_time_info": "19:33:05 BST on 2022-03-29 is 18:33:05Z; Elastic kept the clock as UTC",
	// Elastic takes user.email from the eventInfo text when it names someone, which gives a display name or
	// another account; the record's user field is the audited account and is what detection must key on.
	"7/user_email":  "the record's user is johndoe@example.local; johdoe@example.local is the actor named in the text (kept as eventInfo.actor)",
	"18/user_email": `Elastic put the display name "John Doe" in user.email; the record's user is johndoe@example.com`,
	// The failed-login Address dump ends "remote IP : x application : y"; Elastic maps that IP to client.ip only.
	"10/remote_ip": "same address as src_ip (which agrees with Elastic's client.ip); we also keep which label the text used",
}

func TestElasticAuditComparison(t *testing.T) {
	logData, err := os.ReadFile(elasticAuditLog(t))
	if err != nil {
		t.Fatal(err)
	}
	expData, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), "audit_events", "test-audit-events.log-expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Expected []json.RawMessage `json:"expected"`
	}
	if err := json.Unmarshal(expData, &exp); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(logData), []byte("\n"))
	if len(lines) != len(exp.Expected) {
		t.Fatalf("%d input lines, %d expected documents", len(lines), len(exp.Expected))
	}

	found := map[string]string{}
	ingested := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, line := range lines {
		n := i + 1
		var doc elasticDoc
		if err := json.Unmarshal(exp.Expected[i], &doc); err != nil {
			t.Fatalf("expected %d: %v", n, err)
		}
		row, err := schema.Audit.Decode("acme", json.RawMessage(line), ingested)
		if err != nil {
			// Only the trailing pagination envelope is not a record; Elastic drops it too (empty document).
			if doc.Event.ID != "" {
				t.Errorf("record %d: decode failed (%v) but Elastic produced a document", n, err)
			}
			continue
		}
		ev, err := Audit(row)
		if err != nil {
			t.Errorf("record %d: %v", n, err)
			continue
		}
		str := func(k string) string { s, _ := ev.Fields[k].(string); return s }
		compare := func(field, ours, theirs string) {
			if ours != theirs {
				found[fmt.Sprintf("%d/%s", n, field)] = fmt.Sprintf("ours %q, Elastic %q", ours, theirs)
			}
		}
		compare("id", strings.TrimPrefix(ev.ID, "acme/Audit_CL/"), doc.Event.ID)
		compare("time", ev.Time.Format(time.RFC3339), normTime(doc.Timestamp))
		compare("src_ip", ev.SrcIP, doc.Client.IP)
		compare("user_email", ev.UserEmail, doc.User.Email)
		compare("action", kebab(ev.Activity), doc.Event.Action)
		compare("app", ev.App, doc.Mimecast.Application)
		compare("method", str("eventInfo.method"), doc.Mimecast.Method)
		compare("2fa", str("eventInfo.2fa"), doc.Mimecast.TwoFA)
		compare("reason", str("eventInfo.reason"), doc.Event.Reason)
		compare("remote_ip", str("eventInfo.remote_ip"), doc.Mimecast.RemoteIP)
		// Elastic copies eventTime into event.created when the text has no Date/Time; compare only real ones.
		if created := normTime(doc.Event.Created); created != ev.Time.Format(time.RFC3339) || str("eventInfo.time") != "" {
			compare("event_time_info", str("eventInfo.time"), created)
		}
	}

	var keys []string
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := elasticDisagreements[k]; !ok {
			t.Errorf("unexplained difference %s: %s", k, found[k])
		} else {
			t.Logf("known difference %s: %s — %s", k, found[k], elasticDisagreements[k])
		}
	}
	for k := range elasticDisagreements {
		if _, ok := found[k]; !ok {
			t.Errorf("listed difference %s no longer differs; remove it", k)
		}
	}
}

// normTime rewrites an Elastic timestamp ("2021-10-18T08:45:02.000Z") as RFC 3339 seconds in UTC.
func normTime(s string) string {
	if s == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "unparsable:" + s
	}
	return t.UTC().Format(time.RFC3339)
}

// kebab writes an audit type the way Elastic's event.action does: lower case, words joined by "-".
func kebab(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), "-")
}

// elasticAuditLog is the recorded audit corpus beside the repository.
func elasticAuditLog(t testing.TB) string {
	return filepath.Join(testutil.CorpusDir(t), "audit_events", "test-audit-events.log")
}
