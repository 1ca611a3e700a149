package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/config"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// The 13 Sentinel analytic rules of the Mimecast solution, by id.
const (
	ruleLogonFailed     = "f00197ab-491f-41e7-9e22-a7003a4c1e54"
	ruleDLPHold         = "8e52bcf1-4f50-4c39-8678-d9efad64e379"
	ruleDLPNotification = "cfd67598-ad0d-430a-a793-027eb4dbe967"
	ruleSEGAttachment   = "72bd7b0c-493c-4fa5-8a95-7f6376b6cfb2"
	ruleSEGAV           = "33bf0cc9-e568-42bf-9571-c22adf7be66d"
	ruleSEGImperson     = "2ef77cef-439f-4d94-848f-3eca67510d2f"
	ruleSEGInternal     = "d3bd7640-3600-49f9-8d10-6fe312e68b4f"
	ruleSEGSpam         = "0cda82c8-e8f0-4117-896e-a10f1b43e64a"
	ruleSEGURL          = "80f244cd-b0d6-404e-9aed-37f7a66eda9f"
	ruleSEGVirus        = "d78d7352-fa5a-47d4-b48f-cb2c3252c0eb"
	ruleTTPAttachment   = "617a55be-a8d8-49c1-8687-d19a0231056f"
	ruleTTPImperson     = "c048fa06-0d50-4626-ae82-a6cea812d9c4"
	ruleTTPURL          = "952faed4-c6a6-4873-aeb9-b348e9ce5aba"
)

// storyRules says which Sentinel rules each story kind of the simulator must raise. Kinds with no rule are
// about behaviour (a first logon from a country, a forwarding rule, a large message to a personal address),
// which no Sentinel fact rule of the solution reads.
var storyRules = map[string][]string{
	sim.StoryPasswordSpray:  {ruleLogonFailed},
	sim.StoryDLPHold:        {ruleDLPHold, ruleDLPNotification},
	sim.StoryMaliciousClick: {ruleTTPURL, ruleSEGURL},
	sim.StoryNewCountry:     nil,
	sim.StoryForwardingRule: nil,
	sim.StoryLargeMail:      nil,
}

// storyTenant is a simulated tenant collected through App.Sync, with what detection made of it.
type storyTenant struct {
	s       *sim.Sim
	a       *App
	now     time.Time
	stories []sim.Story
	events  map[string]schema.Event   // every stored event, by id
	alerts  map[string][]schema.Alert // current alerts, by rule id
}

// collectStoryTenant collects every event stream of a small simulated tenant (two days) and loads the stored
// events and alerts.
func collectStoryTenant(t *testing.T) *storyTenant {
	t.Helper()
	// The tenant clock stays near the real one: pre-signed SIEM file URLs expire by it.
	now := time.Now().UTC().Truncate(time.Second)
	s, err := sim.New(sim.Options{Seed: 21, Mailboxes: 6, Days: 2, Start: now, Now: func() time.Time { return now },
		ClientID: simID, ClientSecret: simSecret, RateLimitCalls: 30, RateLimitWindow: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cfg := testConfig(t, srv.URL)
	cfg.Sync.PageSize = 100
	cfg.Tenants[0].Streams = []string{"audit", "dlp", "ttp_url", "ttp_attachment", "ttp_impersonation", "siem_cg", "siem_ci"}
	// Streams are collected side by side, each oldest first: two days of history must all be evaluated.
	cfg.Detect.Lateness = config.Duration(4 * 24 * time.Hour)
	ctx := context.Background()
	a, err := Open(ctx, cfg, Options{Sleep: fastSleep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	var lastErr error
	for pass := 0; pass < 6; pass++ {
		if _, lastErr = a.Sync(ctx, SyncRequest{}); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("collection did not complete: %v", lastErr)
	}
	for _, c := range a.Connectors() {
		if c.State != StateOK {
			t.Fatalf("connector %s/%s ended %s: %s", c.Tenant, c.Stream, c.State, c.LastError)
		}
	}

	f := &storyTenant{s: s, a: a, now: now, stories: s.Stories(now.Add(-30*24*time.Hour), now.Add(time.Hour)),
		events: map[string]schema.Event{}, alerts: map[string][]schema.Alert{}}
	evs, err := a.storedEvents(ctx, now.Add(-5*24*time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		f.events[ev.ID] = ev
	}
	all, err := a.Store().Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, al := range all {
		if al.Status != "superseded" {
			f.alerts[al.RuleID] = append(f.alerts[al.RuleID], al)
		}
	}
	return f
}

// alertEvents returns the stored events of an alert; an id that names no stored event is an error.
func (f *storyTenant) alertEvents(t *testing.T, al schema.Alert) []schema.Event {
	t.Helper()
	var out []schema.Event
	for _, id := range al.EventIDs {
		ev, ok := f.events[id]
		if !ok {
			t.Errorf("alert %s (%s) names event %s, which is not stored", al.ID, al.Title, id)
			continue
		}
		out = append(out, ev)
	}
	return out
}

func hasEntity(al schema.Alert, typ, value string) bool {
	return slices.Contains(al.Entities, schema.Entity{Type: typ, Value: value})
}

func entityValues(al schema.Alert, typ string) []string {
	var out []string
	for _, e := range al.Entities {
		if e.Type == typ {
			out = append(out, e.Value)
		}
	}
	return out
}

func auditEventID(recID string) string { return "acme/Audit_CL/" + recID }

// TestSimulatedStoriesRaiseSentinelAlerts collects a simulated tenant with every event stream and checks the
// Sentinel rules against the simulator's ground truth in both directions: each attack story a rule covers
// raises an alert of that rule naming the story's users, addresses and messages, and no alert of a fact rule
// lacks a story or a gateway detection behind it (the benign part of the data raises none).
func TestSimulatedStoriesRaiseSentinelAlerts(t *testing.T) {
	f := collectStoryTenant(t)

	t.Run("rules loaded", func(t *testing.T) {
		rules, err := loadRules(f.a.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rules {
			ids = append(ids, r.ID)
		}
		for _, id := range []string{ruleLogonFailed, ruleDLPHold, ruleDLPNotification, ruleSEGAttachment, ruleSEGAV,
			ruleSEGImperson, ruleSEGInternal, ruleSEGSpam, ruleSEGURL, ruleSEGVirus, ruleTTPAttachment, ruleTTPImperson, ruleTTPURL} {
			if !slices.Contains(ids, id) {
				t.Errorf("Sentinel rule %s is not loaded", id)
			}
		}
	})

	t.Run("story kinds", func(t *testing.T) {
		kinds := map[string]int{}
		for _, st := range f.stories {
			kinds[st.Kind]++
			if _, ok := storyRules[st.Kind]; !ok {
				t.Errorf("story kind %q is new: say which Sentinel rules (if any) must raise it", st.Kind)
			}
		}
		for _, k := range []string{sim.StoryPasswordSpray, sim.StoryDLPHold, sim.StoryMaliciousClick} {
			if kinds[k] == 0 {
				t.Errorf("two simulated days hold no %s story; the test needs one (stories %v)", k, kinds)
			}
		}
		t.Logf("stories: %v", kinds)
	})

	t.Run(sim.StoryPasswordSpray, func(t *testing.T) { checkSprayStories(t, f) })
	t.Run(sim.StoryDLPHold, func(t *testing.T) { checkDLPStories(t, f) })
	t.Run(sim.StoryMaliciousClick, func(t *testing.T) { checkClickStories(t, f) })
	t.Run("no logon alert without a spray", func(t *testing.T) { checkLogonAlertsHaveSpray(t, f) })
	t.Run("gateway detections", func(t *testing.T) { checkGatewayDetections(t, f) })
	t.Run("alerts explained", func(t *testing.T) { checkAlertsExplained(t, f) })
}

// checkSprayStories: every password spray with enough failures to pass the threshold (more than 3) is one alert
// of the logon rule holding all of its failures, naming every attacking address and targeted mailbox.
func checkSprayStories(t *testing.T, f *storyTenant) {
	alerts := f.alerts[ruleLogonFailed]
	checked := 0
	for _, st := range f.stories {
		if st.Kind != sim.StoryPasswordSpray {
			continue
		}
		var failures, users []string
		var first, last time.Time
		for _, id := range st.RecordIDs {
			ev, ok := f.events[auditEventID(id)]
			if !ok {
				t.Errorf("spray %s: audit record %s is not stored", st.Start, id)
				continue
			}
			if ev.EventType == schema.EventFailedAppLogin {
				failures = append(failures, ev.ID)
				if first.IsZero() || ev.Time.Before(first) {
					first = ev.Time
				}
				if ev.Time.After(last) {
					last = ev.Time
				}
				if !slices.Contains(users, ev.UserEmail) {
					users = append(users, ev.UserEmail)
				}
			}
		}
		if want, _ := strconv.Atoi(st.Detail["failures"]); len(failures) != want {
			t.Errorf("spray %s: %d failed-app-login events stored, the tenant made %d", st.Start, len(failures), want)
		}
		if len(failures) <= 3 {
			continue // cut short by the tenant's clock: under the rule's threshold
		}
		checked++
		i := slices.IndexFunc(alerts, func(al schema.Alert) bool { return slices.Contains(al.EventIDs, failures[0]) })
		if i < 0 {
			t.Errorf("spray %s–%s from %v (%d failures) raised no alert of the logon rule", st.Start, st.End, st.IPs, len(failures))
			continue
		}
		al := alerts[i]
		for _, id := range failures {
			if !slices.Contains(al.EventIDs, id) {
				t.Errorf("spray %s: failure %s is not in its alert %s", st.Start, id, al.ID)
			}
		}
		if al.FirstEvent.After(first) || al.LastEvent.Before(last) {
			t.Errorf("spray failures %s–%s: alert spans %s–%s", first, last, al.FirstEvent, al.LastEvent)
		}
		for _, ip := range st.IPs {
			if !hasEntity(al, "ip", ip) {
				t.Errorf("spray %s: alert %q does not name attacking address %s (entities %v)", st.Start, al.Title, ip, al.Entities)
			}
		}
		for _, u := range users {
			if !hasEntity(al, "mailbox", u) {
				t.Errorf("spray %s: alert %q does not name targeted mailbox %s", st.Start, al.Title, u)
			}
		}
		if !strings.Contains(al.Title, st.IPs[0]) {
			t.Errorf("spray %s: title %q does not name the first attacking address %s", st.Start, al.Title, st.IPs[0])
		}
	}
	if checked == 0 {
		t.Fatal("no password spray with more than 3 failures in the collected days")
	}
}

// checkLogonAlertsHaveSpray is the benign-day check of the logon rule: ordinary failed logons never make an
// alert, so every alert holds failures of a password spray and spans it.
func checkLogonAlertsHaveSpray(t *testing.T, f *storyTenant) {
	spray := map[string]sim.Story{}
	for _, st := range f.stories {
		if st.Kind == sim.StoryPasswordSpray {
			for _, id := range st.RecordIDs {
				spray[auditEventID(id)] = st
			}
		}
	}
	for _, al := range f.alerts[ruleLogonFailed] {
		var from []sim.Story
		for _, ev := range f.alertEvents(t, al) {
			if ev.EventType != schema.EventFailedAppLogin || ev.SrcIP == "" {
				t.Errorf("logon alert %q holds event %s of type %s with src_ip %q", al.Title, ev.ID, ev.EventType, ev.SrcIP)
			}
			if st, ok := spray[ev.ID]; ok {
				from = append(from, st)
			}
		}
		if len(from) == 0 {
			t.Errorf("false positive: logon alert %q (%s–%s, %d events) holds no failure of a password spray; benign failures: %v",
				al.Title, al.FirstEvent, al.LastEvent, len(al.EventIDs), al.EventIDs)
			continue
		}
		if st := from[0]; al.FirstEvent.After(st.End) || al.LastEvent.Before(st.Start) {
			t.Errorf("logon alert %q (%s–%s) does not overlap its spray %s–%s", al.Title, al.FirstEvent, al.LastEvent, st.Start, st.End)
		}
	}
}

// checkDLPStories: each message of a DLP story (a user sending card numbers to an outside address) is in an
// alert of the Hold rule and of the Notifications rule (the policy does both), naming sender and recipient.
func checkDLPStories(t *testing.T, f *storyTenant) {
	checked := 0
	for _, st := range f.stories {
		if st.Kind != sim.StoryDLPHold {
			continue
		}
		for k, msgID := range st.RecordIDs {
			if st.Times[k].Add(time.Minute).After(f.now) {
				continue // the DLP log is written a second after the message
			}
			checked++
			for _, c := range []struct{ rule, action string }{{ruleDLPHold, "hold"}, {ruleDLPNotification, "notification"}} {
				al, ok := f.alertWith(t, c.rule, func(ev schema.Event) bool {
					return ev.Table == "Seg_Dlp_CL" && ev.MessageID == msgID && strings.EqualFold(ev.Action, c.action)
				})
				if !ok {
					t.Errorf("DLP story of %s: message %s (%s) is in no %s alert", st.Users[0], msgID, st.Times[k], c.action)
					continue
				}
				for _, who := range []string{st.Users[0], st.Detail["target"]} {
					if !hasEntity(al, "mailbox", who) {
						t.Errorf("DLP %s alert %q does not name %s (entities %v)", c.action, al.Title, who, al.Entities)
					}
				}
				// The title lists up to three senders and policies of the alert's messages.
				senders, policies := map[string]bool{}, map[string]bool{}
				for _, ev := range f.alertEvents(t, al) {
					senders[ev.Sender], policies[ev.Policy] = true, true
				}
				if len(senders) <= 3 && !strings.Contains(al.Title, st.Users[0]) {
					t.Errorf("DLP %s alert title %q does not name the sender %s", c.action, al.Title, st.Users[0])
				}
				if len(policies) <= 3 && !strings.Contains(al.Title, st.Detail["policy"]) {
					t.Errorf("DLP %s alert title %q does not name the policy %q", c.action, al.Title, st.Detail["policy"])
				}
				if al.FirstEvent.After(st.Times[k].Add(time.Second)) || al.LastEvent.Before(st.Times[k]) {
					t.Errorf("DLP %s alert %q spans %s–%s, not its message at %s", c.action, al.Title, al.FirstEvent, al.LastEvent, st.Times[k])
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no DLP story message in the collected days")
	}
}

// checkClickStories: each malicious link sent to the risky user is a TTP URL Protect alert (the click was
// blocked) naming the message, the user, the sending server and the URL, and a SEG URL Protect alert (the
// gateway's URL scan) naming the user.
func checkClickStories(t *testing.T, f *storyTenant) {
	checked, checkedSEG := 0, 0
	siemUntil := f.s.SIEMAvailableUntil()
	for _, st := range f.stories {
		if st.Kind != sim.StoryMaliciousClick {
			continue
		}
		user := st.Users[0]
		for k, msgID := range st.RecordIDs {
			if st.Times[k].Add(10 * time.Minute).After(f.now) {
				continue // the click comes up to 9 minutes after the message
			}
			checked++
			al, ok := f.alertWith(t, ruleTTPURL, func(ev schema.Event) bool {
				return ev.Table == "Ttp_Url_CL" && ev.MessageID == msgID
			})
			if !ok {
				t.Errorf("malicious click of %s on message %s (%s) raised no TTP URL Protect alert", user, msgID, st.Times[k])
			} else {
				if !hasEntity(al, "message", msgID) || !hasEntity(al, "mailbox", user) {
					t.Errorf("TTP URL alert %q does not name message %s and user %s (entities %v)", al.Title, msgID, user, al.Entities)
				}
				if ips := entityValues(al, "ip"); len(ips) == 0 || !slices.Contains(st.IPs, ips[0]) {
					t.Errorf("TTP URL alert %q: ip entities %v, want the sending server, one of %v", al.Title, ips, st.IPs)
				}
				if urls := entityValues(al, "url"); len(urls) == 0 || !strings.Contains(al.Title, urls[0]) {
					t.Errorf("TTP URL alert %q: url entities %v, want the clicked URL, named in the title", al.Title, urls)
				}
				if al.FirstEvent.Before(st.Times[k]) {
					t.Errorf("TTP URL alert %q starts at %s, before its message at %s", al.Title, al.FirstEvent, st.Times[k])
				}
			}
			if !st.Times[k].Add(time.Second).Before(siemUntil) {
				continue // the SIEM batch file of that period is not listed yet
			}
			checkedSEG++
			al, ok = f.alertWith(t, ruleSEGURL, func(ev schema.Event) bool {
				return ev.Table == "Seg_Cg_CL" && ev.MessageID == msgID
			})
			if !ok {
				t.Errorf("malicious link to %s in message %s (%s) raised no SEG URL Protect alert", user, msgID, st.Times[k])
			} else if !hasEntity(al, "mailbox", user) {
				t.Errorf("SEG URL alert %q does not name the recipient %s (entities %v)", al.Title, user, al.Entities)
			}
		}
	}
	if checked == 0 || checkedSEG == 0 {
		t.Fatalf("malicious-click story messages checked: %d against TTP logs, %d against SIEM; the test needs both", checked, checkedSEG)
	}
}

// alertWith returns the alert of a rule holding an event that match accepts.
func (f *storyTenant) alertWith(t *testing.T, rule string, match func(schema.Event) bool) (schema.Alert, bool) {
	t.Helper()
	for _, al := range f.alerts[rule] {
		if slices.ContainsFunc(f.alertEvents(t, al), match) {
			return al, true
		}
	}
	return schema.Alert{}, false
}

// detectionRule ties a gateway-detection rule to the simulator's records it must alert on.
type detectionRule struct {
	id, name string
	// truth returns the keys of the detections the tenant served that the rule must raise.
	truth func(f *storyTenant) (map[string]bool, error)
	// key returns the key of an alert event, and false for an event the rule must not match.
	key func(ev schema.Event) (string, bool)
	// always is set when the simulated days always hold such detections (stories, or a high rate).
	always bool
}

func decodeRecs(raws []json.RawMessage) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(raws))
	for _, raw := range raws {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func str(m map[string]any, k string) string {
	if v, ok := m[k].(string); ok {
		return v
	}
	if v, ok := m[k]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// mailKey keys a mail detection by its message id, else by Mimecast's aggregate id (the rules' dedup key).
func mailKey(messageID, aggregateID string) string {
	if messageID = strings.TrimSpace(messageID); messageID != "" {
		return messageID
	}
	return "aggregate:" + aggregateID
}

// siemRule is a Cloud Gateway rule: every event of the SIEM type (that keep accepts) must alert.
func siemRule(id, name, siemType string, keep func(map[string]any) bool, always bool) detectionRule {
	logtype := schema.Logtype(siemType)
	return detectionRule{id: id, name: name, always: always,
		truth: func(f *storyTenant) (map[string]bool, error) {
			tr, err := f.s.SIEMTruth(siemType, f.now.Add(-30*24*time.Hour), f.now.Add(time.Hour))
			if err != nil {
				return nil, err
			}
			recs, err := decodeRecs(tr.Records)
			if err != nil {
				return nil, err
			}
			out := map[string]bool{}
			for _, r := range recs {
				if keep == nil || keep(r) {
					out[mailKey(str(r, "messageId"), str(r, "aggregateId"))] = true
				}
			}
			return out, nil
		},
		key: func(ev schema.Event) (string, bool) {
			return mailKey(ev.MessageID, ev.AlertID), ev.Table == "Seg_Cg_CL" && ev.Activity == logtype
		},
	}
}

// apiRule is a rule over an /api log: every record that keep accepts must alert; table and eventOK say which
// events the rule may match; recKey and evKey key a record and its event the same way.
func apiRule(id, name, path, table string, keep func(map[string]any) bool, recKey func(map[string]any) string,
	eventOK func(schema.Event) bool, evKey func(schema.Event) string, always bool) detectionRule {
	return detectionRule{id: id, name: name, always: always,
		truth: func(f *storyTenant) (map[string]bool, error) {
			tr, err := f.s.APITruth(path, f.now.Add(-30*24*time.Hour), f.now.Add(time.Hour))
			if err != nil {
				return nil, err
			}
			recs, err := decodeRecs(tr.Records)
			if err != nil {
				return nil, err
			}
			out := map[string]bool{}
			for _, r := range recs {
				if keep(r) {
					out[recKey(r)] = true
				}
			}
			return out, nil
		},
		key: func(ev schema.Event) (string, bool) { return evKey(ev), ev.Table == table && eventOK(ev) },
	}
}

func dlpRule(id, name, action string) detectionRule {
	return apiRule(id, name, sim.PathDLP, "Seg_Dlp_CL",
		func(r map[string]any) bool { return str(r, "action") == action },
		func(r map[string]any) string { return str(r, "messageId") + "|" + str(r, "action") },
		func(ev schema.Event) bool {
			return ev.EventType == schema.EventDLPAlert && strings.EqualFold(ev.Action, action)
		},
		func(ev schema.Event) string { return ev.MessageID + "|" + strings.ToLower(ev.Action) }, true)
}

func byMessageID(r map[string]any) string { return str(r, "messageId") }

func eventMessageID(ev schema.Event) string { return ev.MessageID }

var gatewayRules = []detectionRule{
	dlpRule(ruleDLPHold, "DLP Hold", "hold"),
	dlpRule(ruleDLPNotification, "DLP Notifications", "notification"),
	apiRule(ruleTTPURL, "TTP URL Protect", sim.PathTTPURL, "Ttp_Url_CL",
		func(r map[string]any) bool { return str(r, "scanResult") == "malicious" && str(r, "action") != "allow" },
		byMessageID, func(ev schema.Event) bool { return ev.EventType == schema.EventSecurityAlert && ev.Action != "allow" },
		eventMessageID, true),
	apiRule(ruleTTPAttachment, "TTP Attachment Protect", sim.PathTTPAttachment, "Ttp_Attachment_CL",
		func(r map[string]any) bool { return str(r, "result") != "safe" },
		byMessageID, func(ev schema.Event) bool { return ev.EventType == schema.EventSecurityAlert },
		eventMessageID, false),
	apiRule(ruleTTPImperson, "TTP Impersonation Protect", sim.PathTTPImpersonation, "Ttp_Impersonation_CL",
		func(r map[string]any) bool { return r["taggedMalicious"] == true },
		byMessageID, func(ev schema.Event) bool { return ev.EventType == schema.EventSecurityAlert },
		eventMessageID, false),
	siemRule(ruleSEGAttachment, "SEG Attachment Protect", "attachment protect", nil, false),
	siemRule(ruleSEGAV, "SEG AV", "av", nil, false),
	siemRule(ruleSEGImperson, "SEG Impersonation Protect", "impersonation protect", nil, false),
	siemRule(ruleSEGInternal, "SEG Internal Email Protect", "internal email protect", nil, false),
	siemRule(ruleSEGSpam, "SEG Spam Event Thread", "spam", nil, true),
	siemRule(ruleSEGURL, "SEG URL Protect", "url protect", nil, true),
	// The simulator writes no virus into receipts (viruses are its av rows), so this rule must stay silent.
	siemRule(ruleSEGVirus, "SEG Virus", "receipt", func(r map[string]any) bool { return str(r, "virusFound") != "" }, false),
}

// checkGatewayDetections holds every fact rule over mail logs to the simulator's records: the messages its
// alerts cover are exactly the detections of that kind the tenant served. A message in an alert without such a
// record behind it is a false positive; a record without an alert is a miss.
func checkGatewayDetections(t *testing.T, f *storyTenant) {
	for _, r := range gatewayRules {
		t.Run(r.name, func(t *testing.T) {
			want, err := r.truth(f)
			if err != nil {
				t.Fatal(err)
			}
			if r.always && len(want) == 0 {
				t.Fatalf("the simulated tenant served no %s detection; the test needs some", r.name)
			}
			got := map[string]bool{}
			for _, al := range f.alerts[r.id] {
				for _, ev := range f.alertEvents(t, al) {
					k, ok := r.key(ev)
					if !ok {
						t.Errorf("false positive: %s alert %q holds event %s (%s %s, action %q), which the rule must not match",
							r.name, al.Title, ev.ID, ev.EventType, ev.Activity, ev.Action)
						continue
					}
					got[k] = true
				}
			}
			var missing, extra []string
			for k := range want {
				if !got[k] {
					missing = append(missing, k)
				}
			}
			for k := range got {
				if !want[k] {
					extra = append(extra, k)
				}
			}
			slices.Sort(missing)
			slices.Sort(extra)
			if len(extra) > 0 {
				t.Errorf("false positives: %d of %d messages in %s alerts have no such detection in the tenant's records: %v",
					len(extra), len(got), r.name, head(extra))
			}
			if len(missing) > 0 {
				t.Errorf("misses: %d of %d %s detections the tenant served are in no alert: %v", len(missing), len(want), r.name, head(missing))
			}
			t.Logf("%s: %d detections, %d alerts", r.name, len(want), len(f.alerts[r.id]))
		})
	}
}

// checkAlertsExplained: every alert of the Sentinel rules says what it is about: a title, an explanation that
// counts its events, its events, a time span, and entities with values.
func checkAlertsExplained(t *testing.T, f *storyTenant) {
	total := 0
	for _, id := range []string{ruleLogonFailed, ruleDLPHold, ruleDLPNotification, ruleSEGAttachment, ruleSEGAV,
		ruleSEGImperson, ruleSEGInternal, ruleSEGSpam, ruleSEGURL, ruleSEGVirus, ruleTTPAttachment, ruleTTPImperson, ruleTTPURL} {
		for _, al := range f.alerts[id] {
			total++
			switch {
			case al.Title == "" || strings.Contains(al.Title, "{{"):
				t.Errorf("alert %s of rule %s has title %q", al.ID, id, al.Title)
			case len(al.EventIDs) == 0 || al.FirstEvent.IsZero() || al.LastEvent.Before(al.FirstEvent):
				t.Errorf("alert %q: %d events spanning %s–%s", al.Title, len(al.EventIDs), al.FirstEvent, al.LastEvent)
			case !strings.HasPrefix(al.Explanation, strconv.Itoa(len(al.EventIDs))+" "):
				t.Errorf("alert %q (%d events) is explained as %q", al.Title, len(al.EventIDs), al.Explanation)
			case len(al.Entities) == 0:
				t.Errorf("alert %q names no entity", al.Title)
			}
			for _, e := range al.Entities {
				if e.Type == "" || strings.TrimSpace(e.Value) == "" {
					t.Errorf("alert %q has an empty entity %+v", al.Title, e)
				}
			}
		}
	}
	if total == 0 {
		t.Fatal("no alert of the Sentinel rules")
	}
}
