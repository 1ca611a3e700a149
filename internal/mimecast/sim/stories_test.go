package sim

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMailVolumes(t *testing.T) {
	t.Parallel()
	s := mustSim(t, Options{Seed: 31, Mailboxes: 12, Days: 5})
	from := testNow.Add(-5 * 24 * time.Hour)
	count := func(typ string) int {
		evs, err := s.SIEMEvents(typ, from, testNow)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	// Every message has exactly one receipt (external) or journal (internal) event.
	messages := count("receipt") + count("journal")
	perDay := float64(messages) / 12 / 5
	if perDay < 70 || perDay > 130 {
		t.Errorf("%.1f messages per mailbox per day, want about %d", perDay, messagesPerMailboxDay)
	}
	rates := []struct {
		typ    string
		lo, hi float64 // share of all messages
	}{
		{"spam", 0.03, 0.09},
		{"av", 0.0003, 0.006}, // held for a virus, or rejected at receipt for one
		{"url protect", 0.01, 0.05},
		{"attachment protect", 0.005, 0.02},
		{"impersonation protect", 0.0005, 0.005},
		{"delivery", 0.8, 0.99},
	}
	for _, tt := range rates {
		t.Run(tt.typ, func(t *testing.T) {
			share := float64(count(tt.typ)) / float64(messages)
			if share < tt.lo || share > tt.hi {
				t.Errorf("%s on %.4f of messages, want %.4f..%.4f", tt.typ, share, tt.lo, tt.hi)
			}
		})
	}
	dlp, _ := s.LogRecords(PathDLP, from, testNow)
	if share := float64(len(dlp)/2) / float64(messages); share < 0.0005 || share > 0.008 {
		t.Errorf("DLP hits on %.4f of messages", share)
	}
}

func TestStories(t *testing.T) {
	t.Parallel()
	s := mustSim(t, Options{Seed: 32, Mailboxes: 30, Days: 3})
	from := testNow.Add(-3 * 24 * time.Hour)
	stories := s.Stories(from, testNow)
	kinds := map[string]int{}
	for _, st := range stories {
		kinds[st.Kind]++
		if len(st.Users) == 0 || len(st.RecordIDs) == 0 || st.Start.IsZero() || st.End.Before(st.Start) ||
			st.Start.Before(from) || st.Start.After(testNow) || len(st.Times) != len(st.RecordIDs) {
			t.Errorf("incomplete story %+v", st)
		}
	}
	for _, k := range []string{StoryPasswordSpray, StoryNewCountry, StoryForwardingRule, StoryMaliciousClick, StoryDLPHold, StoryLargeMail} {
		if kinds[k] < 2 || kinds[k] > 4 {
			t.Errorf("%d %s stories in 3 days, want one a day", kinds[k], k)
		}
	}
	if again := s.Stories(from, testNow); len(again) != len(stories) {
		t.Errorf("Stories not stable: %d then %d", len(stories), len(again))
	}
	other := mustSim(t, Options{Seed: 33, Mailboxes: 30, Days: 3})
	if o := other.Stories(from, testNow); len(o) > 0 && len(stories) > 0 && o[1].Start.Equal(stories[1].Start) && o[1].Users[0] == stories[1].Users[0] {
		t.Error("another seed gave the same story")
	}

	audit := map[string]string{} // id → eventInfo
	auditUser := map[string]string{}
	for _, r := range s.AuditRecords(from, testNow) {
		audit[r.ID], auditUser[r.ID] = r.EventInfo, r.User
	}
	byMessage := func(path string) map[string][]map[string]any {
		raws, err := s.LogRecords(path, from, testNow)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]map[string]any{}
		for _, raw := range raws {
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			id, _ := m["messageId"].(string)
			out[id] = append(out[id], m)
		}
		return out
	}
	clicks, dlp := byMessage(PathTTPURL), byMessage(PathDLP)
	deliveries := map[string]map[string]any{}
	raws, _ := s.SIEMEvents("delivery", from, testNow)
	for _, raw := range raws {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		deliveries[m["messageId"].(string)] = m
	}

	for _, st := range stories {
		t.Run(st.Kind+" "+st.Start.Format(time.RFC3339), func(t *testing.T) {
			switch st.Kind {
			case StoryNewCountry:
				ip, usual := st.IPs[0], st.Detail["usualIP"]
				if ip == usual || st.Detail["country"] == "" {
					t.Fatalf("story %+v", st)
				}
				for _, id := range st.RecordIDs {
					if !strings.Contains(audit[id], "IP: "+ip+",") || auditUser[id] != st.Users[0] {
						t.Errorf("record %s is not a logon of %s from %s: %q", id, st.Users[0], ip, audit[id])
					}
				}
				// Apart from stories, the victim only ever logs on from one address.
				for id, info := range audit {
					if auditUser[id] != st.Users[0] || !strings.Contains(info, "authentication for") || slices.Contains(st.RecordIDs, id) {
						continue
					}
					if !strings.Contains(info, "IP: "+usual+",") && !storyRecord(stories, id) {
						t.Errorf("victim logged on from elsewhere: %s", info)
					}
				}
			case StoryForwardingRule:
				info := audit[st.RecordIDs[0]]
				target := st.Detail["target"]
				domain := target[strings.Index(target, "@")+1:]
				if !slices.Contains(personalDomains, domain) || !strings.Contains(info, "Change Email Forwarding: "+st.Users[0]+" to "+target) {
					t.Errorf("forwarding record %q for target %q", info, target)
				}
			case StoryMaliciousClick:
				for _, id := range st.RecordIDs {
					recs := clicks[id]
					if len(recs) != 1 || recs[0]["userEmailAddress"] != st.Users[0] || recs[0]["scanResult"] != "malicious" {
						t.Errorf("click records of %s: %v", id, recs)
					}
				}
				if st.Detail["safeScore"] != "F" || !s.users[slices.Index(s.Mailboxes(), st.Users[0])].risky {
					t.Errorf("clicker %s is not a risky user", st.Users[0])
				}
			case StoryDLPHold:
				if len(st.RecordIDs) != 3 {
					t.Errorf("%d held messages, want 3", len(st.RecordIDs))
				}
				for _, id := range st.RecordIDs {
					var holds int
					for _, r := range dlp[id] {
						if r["action"] == "hold" && r["senderAddress"] == st.Users[0] && r["policy"] == st.Detail["policy"] {
							holds++
						}
					}
					if holds != 1 {
						t.Errorf("message %s has %d holds: %v", id, holds, dlp[id])
					}
				}
			case StoryLargeMail:
				d := deliveries[st.RecordIDs[0]]
				size, _ := strconv.Atoi(d["emailSize"].(string))
				if d == nil || size <= 5_000_000 || d["direction"] != "Outbound" || d["recipients"] != st.Detail["target"] ||
					d["senderEnvelope"] != st.Users[0] || strconv.Itoa(size) != st.Detail["size"] {
					t.Errorf("delivery %v for story %+v", d, st)
				}
			case StoryPasswordSpray:
				failures, _ := strconv.Atoi(st.Detail["failures"])
				logons := 0
				if st.Detail["compromised"] != "" {
					logons = 1
				}
				if failures < 4 || len(st.RecordIDs) != failures+logons {
					t.Errorf("spray with %d failures, %d records", failures, len(st.RecordIDs))
				}
				for _, id := range st.RecordIDs {
					if !strings.Contains(audit[id], "IP: ") || !slices.ContainsFunc(st.IPs, func(ip string) bool { return strings.Contains(audit[id], "IP: "+ip+",") }) {
						t.Errorf("spray record %s not from a spray address: %q", id, audit[id])
					}
				}
			}
		})
	}
	t.Run("no large mail to personal addresses outside stories", func(t *testing.T) {
		for id, d := range deliveries {
			size, _ := strconv.Atoi(d["emailSize"].(string))
			if size > 5_000_000 && !storyRecord(stories, id) {
				t.Errorf("unexpected large mail %s", id)
			}
		}
	})
	t.Run("nothing before the data starts", func(t *testing.T) {
		if got := s.Stories(from.Add(-30*24*time.Hour), from.Add(-time.Hour)); len(got) != 0 {
			t.Errorf("%d stories before the start", len(got))
		}
	})
}

func storyRecord(stories []Story, id string) bool {
	for _, st := range stories {
		if slices.Contains(st.RecordIDs, id) {
			return true
		}
	}
	return false
}
