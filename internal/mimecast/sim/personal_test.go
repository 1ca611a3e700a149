package sim

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOnePersonalAddressPerUser checks that over 30 days each user mails at most one private address, always the
// same, that only some users do so at all, and that the exfiltration stories use addresses no user mails benignly.
func TestOnePersonalAddressPerUser(t *testing.T) {
	t.Parallel()
	const days = 30
	s := mustSim(t, Options{Seed: 61, Mailboxes: 16, Days: days})
	from := testNow.Add(-days * 24 * time.Hour)
	mailed := map[string]map[string]int{} // sender -> personal recipient -> messages
	for h := floorDiv(from.Unix(), 3600); h <= floorDiv(testNow.Unix(), 3600); h++ {
		for _, msg := range s.mailFlow(h).msgs {
			if msg.story || msg.route != "outbound" || !slices.Contains(personalDomains, domainOf(msg.recipient)) {
				continue
			}
			if mailed[msg.sender] == nil {
				mailed[msg.sender] = map[string]int{}
			}
			mailed[msg.sender][msg.recipient]++
		}
	}
	personal, total := 0, 0
	for _, u := range s.users {
		if u.personal != "" {
			personal++
		}
		got := mailed[u.email]
		for addr, n := range got {
			total += n
			if addr != u.personal || len(got) > 1 {
				t.Errorf("%s mailed %v, its own private address is %q", u.email, got, u.personal)
			}
		}
	}
	t.Logf("%d of %d users have a private address; %d of them sent it %d messages in %d days", personal, len(s.users), len(mailed), total, days)
	if personal == 0 || personal > len(s.users)/2 {
		t.Errorf("%d of %d users have a private address, want about %.0f%%", personal, len(s.users), personalShare*100)
	}
	if len(mailed) == 0 || total > personal*days/3 {
		t.Errorf("%d users sent %d messages to their private address in %d days: want a few, rarely", len(mailed), total, days)
	}

	targets := map[string]bool{}
	for _, st := range s.Stories(from, testNow) {
		target := st.Detail["target"]
		if st.Kind != StoryForwardingRule && st.Kind != StoryLargeMail {
			continue
		}
		if !slices.Contains(personalDomains, domainOf(target)) {
			t.Errorf("%s story target %q is not at a public provider", st.Kind, target)
		}
		for _, u := range s.users {
			if u.personal != "" && target == u.personal {
				t.Errorf("%s story target %q is %s's own private address", st.Kind, target, u.email)
			}
		}
		targets[target] = true
	}
	if len(targets) < days {
		t.Errorf("%d distinct story addresses over %d days: stories should invent new ones", len(targets), days)
	}
}

// TestForwardingRulesOnlyInStories checks that every mailbox forwarding rule is the forwarding-rule story: benign
// traffic never forwards mail to a public provider.
func TestForwardingRulesOnlyInStories(t *testing.T) {
	t.Parallel()
	s := mustSim(t, Options{Seed: 62, Mailboxes: 30, Days: 7})
	from := testNow.Add(-7 * 24 * time.Hour)
	var story []string
	for _, st := range s.Stories(from, testNow) {
		if st.Kind == StoryForwardingRule {
			story = append(story, st.RecordIDs...)
		}
	}
	forwards := 0
	for _, rec := range s.AuditRecords(from, testNow) {
		if !strings.Contains(strings.ToLower(rec.EventInfo), "forwarding") {
			continue
		}
		forwards++
		if !slices.Contains(story, rec.ID) {
			t.Errorf("forwarding record outside the story: %s", rec.EventInfo)
		}
	}
	if forwards == 0 || forwards != len(story) {
		t.Errorf("%d forwarding records, %d story records", forwards, len(story))
	}
}
