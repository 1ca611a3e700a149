package normalize

import (
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// TestCorpusEventTypes normalizes every corpus record of every table and checks how many events of each type
// they give (counted by reading the records: e.g. Seg_Cg_CL has 10 attachment protect, 11 spam and 1 internal
// email protect rows = 22 security-alerts), that every event carries id, time, tenant and table, and how many
// distinct ids there are: records that repeat another's natural key (sample events copied from a test log, a
// release logged twice) share its id, so a replay is never stored as a second event.
func TestCorpusEventTypes(t *testing.T) {
	tests := []struct {
		table *schema.Table
		rows  int
		ids   int
		want  map[string]int
	}{
		{&schema.SegCg, 62, 62, map[string]int{
			schema.EventSecurityAlert:        22, // 10 attachment protect, 11 spam, 1 internal email protect
			EventEmailActivity:               20, // 10 journal, 10 process
			schema.EventDLPEmailAlertIn:      8,  // 7 accepted inbound receipts, 1 inbound delivery
			schema.EventDLPEmailAlertInFail:  1,  // the rejected receipt
			schema.EventDLPEmailAlertOut:     11, // 2 internal receipts, 9 internal deliveries
			schema.EventDLPEmailAlertOutFail: 0,
		}},
		{&schema.CloudIntegrated, 22, 23, map[string]int{
			schema.EventDLPEmailAlertIn:     10, // 9 inbound entities in progress, 1 delivered
			schema.EventDLPEmailAlertInFail: 1,  // the blocked malware message
			EventEmailActivity:              11, // 10 mailflow lines + the sample event (a mailflow line again)
			schema.EventSecurityAlert:       2,  // MALWARE; UNTRUSTWORTHY, SPAM tags
		}},
		{&schema.SegDlp, 17, 17, map[string]int{schema.EventDLPAlert: 17}},
		{&schema.TtpURL, 9, 14, map[string]int{
			schema.EventWebActivity:   4, // 3 clean user clicks + the sample event (a click)
			EventEmailActivity:        5, // 5 entry scans
			schema.EventSecurityAlert: 5, // the 5 entry scans are malicious
		}},
		{&schema.TtpAttachment, 4, 3, map[string]int{EventEmailActivity: 4}}, // all "safe"; the sample repeats line 1
		{&schema.TtpImpersonation, 4, 4, map[string]int{schema.EventSecurityAlert: 4}},
		{&schema.MessageRelease, 5, 2, map[string]int{schema.EventAppActivity: 5}},
		{&schema.ArchiveSearch, 13, 12, map[string]int{schema.EventAppActivity: 13}},
		{&schema.ThreatIntel, 22, 0, map[string]int{}},
		{&schema.AwarenessPerformance, 1, 0, map[string]int{}},
		{&schema.AwarenessSafeScore, 2, 0, map[string]int{}},
		{&schema.AwarenessWatchlist, 1, 0, map[string]int{}},
		{&schema.AwarenessUserData, 1, 0, map[string]int{}},
	}
	covered := map[string]bool{schema.Audit.Name: true}
	for _, tc := range tests {
		covered[tc.table.Name] = true
		t.Run(tc.table.Name, func(t *testing.T) {
			events, counts := normalizeAll(t, tc.table)
			if len(counts) != tc.rows {
				t.Fatalf("%d rows, want %d", len(counts), tc.rows)
			}
			got := map[string]int{}
			ids := map[string]bool{}
			for _, ev := range events {
				got[ev.EventType]++
				if ev.ID == "" || ev.Time.IsZero() || ev.Tenant != "acme" || ev.Table != tc.table.Name {
					t.Errorf("event lacks id/time/tenant/table: %+v", ev)
				}
				if ev.Time.Location() != time.UTC {
					t.Errorf("%s: time %v not UTC", ev.ID, ev.Time)
				}
				ids[ev.ID] = true
			}
			if len(ids) != tc.ids {
				t.Errorf("%d distinct ids, want %d", len(ids), tc.ids)
			}
			for typ, n := range tc.want {
				if got[typ] != n {
					t.Errorf("%s: %d events, want %d", typ, got[typ], n)
				}
			}
			for typ, n := range got {
				if _, ok := tc.want[typ]; !ok {
					t.Errorf("unexpected %d events of type %s", n, typ)
				}
			}
		})
	}
	for _, tab := range schema.Tables() {
		// Raw_Event_CL holds events read from raw lines, not API records: TestRawEventRoundTrip covers it.
		if !covered[tab.Name] && tab.Name != schema.RawEvent.Name {
			t.Errorf("table %s has no corpus check", tab.Name)
		}
	}
}

// corpusEvent returns the events of one corpus row of a table (rows numbered from 0 in corpus order).
func corpusEvent(t *testing.T, tab *schema.Table, row int) []schema.Event {
	t.Helper()
	rows := corpusRows(t, tab)
	if row >= len(rows) {
		t.Fatalf("%s has %d rows", tab.Name, len(rows))
	}
	return mapRow(t, tab, rows[row])
}

// TestCorpusRecords checks fields of specific corpus records, read by eye from the corpus files.
func TestCorpusRecords(t *testing.T) {
	utc := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts.UTC()
	}
	t.Run("Seg_Cg_CL attachment protect (line 1)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.SegCg, 0)[0]
		want(t, "event_type", ev.EventType, schema.EventSecurityAlert)
		want(t, "time", ev.Time, utc("2024-11-13T11:57:39.314Z"))
		wantList(t, "attachment_names", ev.AttachmentNames, []string{"zero-day.pdf"})
		wantList(t, "attachment_hashes", ev.AttachmentHashes, []string{
			"22a65c438289353d96c707cf55e26be723e3157f0aa00734843a9bdc8f98bab0",
			"ce87cd86f9d9d3ed4c1138530ef259ce83638593", "66f03bf072a74bb19db16c952ba3dc47"})
		want(t, "alert_id", ev.AlertID, "ycS8ZuP_MPunTsp6ErzBSA_1731499054")
		want(t, "fields.offset", ev.Fields["offset"], any(71203.0))
	})
	t.Run("Seg_Cg_CL rejected receipt (line 42)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.SegCg, 41)[0]
		want(t, "event_type", ev.EventType, schema.EventDLPEmailAlertInFail)
		want(t, "outcome", ev.Outcome, schema.OutcomeFailure)
		want(t, "failure_reason", ev.FailureReason, "Envelope blocked - User Entry")
		want(t, "sender", ev.Sender, "truorange@creative-omega.b41.one")
		wantList(t, "recipients", ev.Recipients, []string{"truorange@demo-int.elastic.mime-api.com"})
		want(t, "user", ev.User, "truorange@demo-int.elastic.mime-api.com")
		want(t, "src_ip", ev.SrcIP, "81.2.69.144")
		want(t, "action", ev.Action, "Rej")
		want(t, "fields.rejectionCode", ev.Fields["rejectionCode"], any("550"))
	})
	t.Run("Seg_Cg_CL inbound delivery (line 17)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.SegCg, 16)[0]
		want(t, "event_type", ev.EventType, schema.EventDLPEmailAlertIn)
		want(t, "outcome", ev.Outcome, schema.OutcomeSuccess)
		want(t, "bytes", ev.Bytes, int64(4031))
		want(t, "sender", ev.Sender, "richard.costigan@arcadia-group.b41.one")
		want(t, "subject", ev.Subject, "Energy Briefing paper for Monday, May 21st")
		want(t, "message_id", ev.MessageID, "<0f94646af53b06e4-170077@hapi.b41.one>")
		want(t, "fields.Hostname", ev.Fields["Hostname"], any("ha.hamilton321.net"))
	})
	t.Run("Seg_Cg_CL internal email protect (line 21)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.SegCg, 20)[0]
		want(t, "event_type", ev.EventType, schema.EventSecurityAlert)
		want(t, "direction", ev.Direction, "internal") // from route
		want(t, "user", ev.User, "coo.jeff@demo-int.elastic.mime-api.com")
		want(t, "reason", ev.Fields[reasonField], any("Blocked URL Category"))
	})
	t.Run("Cloud_Integrated_CL blocked malware (line 5)", func(t *testing.T) {
		evs := corpusEvent(t, &schema.CloudIntegrated, 4)
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2", len(evs))
		}
		want(t, "event_type", evs[0].EventType, schema.EventDLPEmailAlertInFail)
		want(t, "sender", evs[0].Sender, "announcements@demovation-ci.b41.one")
		want(t, "policy", evs[0].Policy, "Default O365 Mail policy")
		want(t, "action", evs[0].Action, "BLOCK")
		wantList(t, "attachment_names", evs[0].AttachmentNames, []string{"Sandbox Test.xlsx"})
		want(t, "alert", evs[1].EventType, schema.EventSecurityAlert)
		want(t, "alert reason", evs[1].Fields[reasonField], any("MALWARE"))
	})
	t.Run("Cloud_Integrated_CL four recipients (line 10)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.CloudIntegrated, 9)[0]
		wantList(t, "recipients", ev.Recipients, []string{"darrell.schoolcraft@demovation-ci.b41.one",
			"susan.scott@demovation-ci.b41.one", "michelle.lokay@demovation-ci.b41.one", "lee.huber@demovation-ci.b41.one"})
		wantList(t, "recipient_domains", ev.RecipientDomains, []string{"demovation-ci.b41.one"})
		want(t, "user", ev.User, "darrell.schoolcraft@demovation-ci.b41.one")
	})
	t.Run("Seg_Dlp_CL bounce hold (line 1) and outbound hold (line 12)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.SegDlp, 0)[0]
		want(t, "event_type", ev.EventType, schema.EventDLPAlert)
		want(t, "sender", ev.Sender, "") // "<>"
		want(t, "user", ev.User, "johndoe@example.com")
		want(t, "policy", ev.Policy, "Content Inspection - Watermark")
		want(t, "action", ev.Action, "hold")
		out := corpusEvent(t, &schema.SegDlp, 11)[0]
		want(t, "user", out.User, "kay.mann@demo-int.elastic.mime-api.com")
		want(t, "direction", out.Direction, "outbound")
		want(t, "policy", out.Policy, "Confidential")
	})
	t.Run("Ttp_Url_CL clean click (line 1)", func(t *testing.T) {
		evs := corpusEvent(t, &schema.TtpURL, 0)
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1", len(evs))
		}
		ev := evs[0]
		want(t, "event_type", ev.EventType, schema.EventWebActivity)
		want(t, "user", ev.User, "johndoe@example.com")
		want(t, "action", ev.Action, "allow")
		want(t, "outcome", ev.Outcome, schema.OutcomeSuccess)
		want(t, "src_ip", ev.SrcIP, "")
		want(t, "fields.sendingIp", ev.Fields["sendingIp"], any("67.43.156.15"))
		want(t, "fields.scanResult", ev.Fields["scanResult"], any("clean"))
		want(t, "fields.Category", ev.Fields["Category"], any("Business"))
	})
	t.Run("Ttp_Url_CL malicious internal entry scan (line 6)", func(t *testing.T) {
		evs := corpusEvent(t, &schema.TtpURL, 4)
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2", len(evs))
		}
		want(t, "event_type", evs[0].EventType, EventEmailActivity)
		want(t, "alert", evs[1].EventType, schema.EventSecurityAlert)
		want(t, "alert src_ip", evs[1].SrcIP, "") // "Internal IP"
		want(t, "alert reason", evs[1].Fields[reasonField], any("Compromised"))
		want(t, "url", evs[1].URL, "http://www.enron.com/corp/pressroom/releases/2002/ene/012902Release.html")
	})
	t.Run("Ttp_Attachment_CL safe file (line 1)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.TtpAttachment, 0)[0]
		want(t, "event_type", ev.EventType, EventEmailActivity)
		wantList(t, "attachment_hashes", ev.AttachmentHashes, []string{"eaeef09b60a59b913e9bfc0a4373e25d6182beff388957473fba517cc09345e3"})
		want(t, "action", ev.Action, "user release, none")
		want(t, "policy", ev.Policy, "Inbound - Safe file with On-Demand Sandbox")
	})
	t.Run("Ttp_Impersonation_CL two hits (line 3)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.TtpImpersonation, 2)[0]
		want(t, "event_type", ev.EventType, schema.EventSecurityAlert)
		want(t, "action", ev.Action, "hold")
		want(t, "src_ip", ev.SrcIP, "67.43.156.15")
		want(t, "user", ev.User, "johndoe@example.com")
		want(t, "fields.hits", ev.Fields["hits"], any(2.0))
	})
	t.Run("Message_Release_CL outbound release (record 2)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.MessageRelease, 1)[0]
		want(t, "user", ev.User, "admin@domain.tld")
		want(t, "direction", ev.Direction, "outbound")
		want(t, "action", ev.Action, "released")
	})
	t.Run("Archive_Search_CL search reason (line 8)", func(t *testing.T) {
		ev := corpusEvent(t, &schema.ArchiveSearch, 7)[0]
		want(t, "fields.searchReason", ev.Fields["searchReason"], any("sample search"))
		want(t, "user", ev.User, "admin_dhamilton@hapi1.hamilton321.net")
	})
}
