package ueba

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// warmDays are the working days the benign test lets the models learn before it expects silence.
const warmDays = 3

// runTraffic feeds days of generated traffic, one batch per day, and returns every session reported.
func runTraffic(t *testing.T, tr *traffic, days int, extra func(d int) []schema.Event) (*Engine, map[string]Session) {
	t.Helper()
	c, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	eng := New(c.Models, c.Rules, Options{Context: tr.ctx})
	sessions := map[string]Session{}
	for d := range days {
		evs := tr.day(d)
		if extra != nil {
			evs = append(evs, extra(d)...)
		}
		for _, s := range eng.Process(evs).Sessions {
			sessions[s.ID] = s
		}
	}
	for _, s := range eng.Advance(tr.start.AddDate(0, 0, days+1)).Sessions {
		sessions[s.ID] = s
	}
	return eng, sessions
}

// describe lists a session's findings for a failure message.
func describe(s Session) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s score %d:", s.User, s.Start.Format(time.DateTime), s.Score)
	for _, f := range s.Findings {
		fmt.Fprintf(&b, "\n  %3d %s %s", f.Points, f.RuleID, f.Reason)
	}
	return b.String()
}

// TestBenignTrafficMakesNoNotableUser runs two working weeks of realistic benign behaviour of 20 users through all
// built-in content: once the models have had a few days to learn, no session may reach the notable threshold.
func TestBenignTrafficMakesNoNotableUser(t *testing.T) {
	tr := newTraffic(20, 1)
	_, sessions := runTraffic(t, tr, 14, nil)
	warm := workingDay(tr.start, warmDays)
	var worst []Session
	for _, s := range sessions {
		if s.Start.Before(warm) {
			continue
		}
		worst = append(worst, s)
	}
	slices.SortFunc(worst, func(a, b Session) int { return b.Score - a.Score })
	for _, s := range worst {
		if s.Score >= DefaultNotableAt {
			t.Errorf("benign session reached %d points:\n%s", s.Score, describe(s))
		}
	}
	if len(worst) == 0 {
		t.Fatal("no benign session scored anything after warm-up: the models are not being judged")
	}
	t.Logf("highest benign session after warm-up:\n%s", describe(worst[0]))
}

// TestAttackMakesUserNotable adds an attack to the benign weeks: one user logs in from a new country through a TOR
// exit node, sets a forwarding rule to a public mail domain and mails 6 MB to their personal address. That user's
// session must become notable, and nobody else's.
func TestAttackMakesUserNotable(t *testing.T) {
	tr := newTraffic(20, 1)
	victim := tr.users[4]
	const attackDay = 11
	at := tr.start.AddDate(0, 0, attackDay).Add(20 * time.Hour)
	attack := func(d int) []schema.Event {
		if d != attackDay {
			return nil
		}
		login := tr.appEvent(victim, "x-login", at, schema.EventAppLogin, victim.apps[0], "Log In")
		login.SrcIP = "185.220.101.7"
		fwd := tr.appEvent(victim, "x-fwd", at.Add(2*time.Minute), schema.EventAppActivity, victim.apps[0], "Account Updated")
		fwd.SrcIP, fwd.Action, fwd.Object = login.SrcIP, "Change Email Forwarding", victim.email+" to drop.box.9@outlook.com"
		out := append([]schema.Event{login, fwd}, tr.mail(victim, "x-mail", at.Add(5*time.Minute), victim.personal)...)
		out[len(out)-1].Bytes = 6_000_000
		return out
	}
	_, sessions := runTraffic(t, tr, 14, attack)
	var notable []Session
	for _, s := range sessions {
		if s.Notable && !s.Start.Before(workingDay(tr.start, warmDays)) {
			notable = append(notable, s)
		}
	}
	if len(notable) != 1 || notable[0].User != victim.email {
		var b strings.Builder
		for _, s := range notable {
			b.WriteString("\n" + describe(s))
		}
		t.Fatalf("want exactly %s notable, got %d notable sessions:%s", victim.email, len(notable), b.String())
	}
	t.Logf("attack session:\n%s", describe(notable[0]))
}

// workingDay is the start of the n-th working day (0-based) from start.
func workingDay(start time.Time, n int) time.Time {
	d := start
	for {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			if n == 0 {
				return d
			}
			n--
		}
		d = d.AddDate(0, 0, 1)
	}
}
