package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Story kinds: the attacks embedded in the generated data (one of each per UTC day).
const (
	// StoryPasswordSpray is a burst of failed logons over many mailboxes from a few addresses (see Sprays).
	StoryPasswordSpray = "password-spray"
	// StoryNewCountry is a successful logon of a user who always logs on from one place, from another country.
	StoryNewCountry = "new-country-login"
	// StoryForwardingRule is a mailbox forwarding rule to an address at a public mail provider (audit record).
	StoryForwardingRule = "forwarding-rule"
	// StoryMaliciousClick is a user with a SAFE score of F clicking malicious links (TTP URL logs).
	StoryMaliciousClick = "malicious-click"
	// StoryDLPHold is a user sending several messages that a DLP policy holds (DLP logs).
	StoryDLPHold = "dlp-hold"
	// StoryLargeMail is a message larger than 5 MB sent to a personal address (SIEM delivery, outbound).
	StoryLargeMail = "large-mail-personal"
)

// Story is the ground truth of one embedded attack, for detection tests and the demonstration.
type Story struct {
	// Kind is one of the Story* constants.
	Kind string
	// Users are the mailboxes the story is about (victim or actor first).
	Users []string
	// Start and End are the first and last event of the story.
	Start, End time.Time
	// Times are the times of the story's events, in order.
	Times []time.Time
	// IPs are the source addresses involved, if any.
	IPs []string
	// RecordIDs identify the records: audit ids for audit stories, messageIds for mail stories.
	RecordIDs []string
	// Detail holds kind-specific facts: "country" and "usualIP" (new country), "target" (forwarding, large
	// mail, DLP), "policy" (DLP), "size" (large mail, bytes), "safeScore" (malicious click).
	Detail map[string]string
}

// dayPlan is when and to whom the stories of one UTC day happen.
type dayPlan struct {
	country storyAt // audit: logon from a foreign address
	forward storyAt // audit: forwarding rule, same victim and address, shortly after
	click   storyAt // mail: malicious links clicked by a risky user
	dlp     storyAt // mail: DLP holds
	large   storyAt // mail: large mail to a personal address
}

// storyAt is one story's moment, actor and parameters.
type storyAt struct {
	t       time.Time
	user    int
	ip      string
	country string
	target  string
	size    int
}

// plan returns the (cached) story plan of a UTC day.
func (s *Sim) plan(day int64) dayPlan {
	s.mu.Lock()
	p, ok := s.plans[day]
	s.mu.Unlock()
	if ok || s.quiet(day) {
		return p // a benign day's plan is empty: every story time is zero and never matches an hour
	}
	r := rngFor(s.opts.Seed, "stories", day)
	at := func() time.Time {
		return time.Unix(day*86400+int64(9+r.IntN(8))*3600, 0).UTC().Add(time.Duration(r.IntN(30*60)) * time.Second)
	}
	personal := func(u *user) string {
		return fmt.Sprintf("%s%d@%s", strings.ReplaceAll(strings.ToLower(u.name), " ", "."), 10+r.IntN(90), pick(r, personalDomains))
	}
	var steady, risky []int
	for i, u := range s.users {
		if u.steady {
			steady = append(steady, i)
		}
		if u.risky {
			risky = append(risky, i)
		}
	}
	src := pick(r, foreignSources)
	p.country = storyAt{t: at(), user: pick(r, steady), country: src.country, ip: src.block.draw(r)}
	victim := &s.users[p.country.user]
	p.forward = storyAt{t: p.country.t.Add(time.Duration(5+r.IntN(20)) * time.Minute), user: p.country.user,
		ip: p.country.ip, target: personal(victim)}
	p.click = storyAt{t: at(), user: pick(r, risky)}
	p.dlp = storyAt{t: at(), user: r.IntN(len(s.users)), target: "accounts@" + pick(r, externalDomains)}
	p.large = storyAt{t: at(), user: r.IntN(len(s.users)), size: 6_000_000 + r.IntN(20_000_000)}
	p.large.target = personal(&s.users[p.large.user])
	s.mu.Lock()
	s.plans[day] = p
	s.mu.Unlock()
	return p
}

// addAuditStories adds the audit records of the stories happening in the generator's hour.
func (g *gen) addAuditStories(h int64) {
	p := g.s.plan(floorDiv(h, 24))
	if c := p.country; floorDiv(c.t.Unix(), 3600) == h {
		u := &g.s.users[c.user]
		app, method := "Mimecast Personal Portal", u.methods[0]
		if u.mfa {
			g.addStory(c.t.Add(-6*time.Second), typeChallenge, catAuth, u.email,
				authInfo("Intermediate", u, c.t.Add(-6*time.Second), c.ip, app, method, ", 2FA: TOTP"), StoryNewCountry)
		}
		g.addStory(c.t, typeLogon, catAuth, u.email, authInfo("Successful", u, c.t, c.ip, app, method, ""), StoryNewCountry)
	}
	if f := p.forward; floorDiv(f.t.Unix(), 3600) == h {
		u := &g.s.users[f.user]
		d, c := zone{loc: g.s.acct, style: styleNumeric}.formatLocal(f.t)
		g.addStory(f.t, "Account Updated", catAccount, u.email, fmt.Sprintf(
			"Action Performed - Change Email Forwarding: %s to %s by %s<%s> Date: %s Time: %s IP: %s Application: Mimecast Personal Portal",
			u.email, f.target, u.email, u.name, d, c, f.ip), StoryForwardingRule)
	}
}

// addStory adds one record that belongs to a story.
func (g *gen) addStory(t time.Time, auditType, category, user, info, story string) {
	g.add(t, auditType, category, user, info)
	g.evs[len(g.evs)-1].story = story
}

// storyMessages returns the messages of the mail stories happening in unix hour h.
func (s *Sim) storyMessages(h int64) []message {
	p := s.plan(floorDiv(h, 24))
	var out []message
	add := func(msg message) {
		msg.story = true
		s.finishMessage(&msg, h, 900000+len(out))
		out = append(out, msg)
	}
	if c := p.click; floorDiv(c.t.Unix(), 3600) == h {
		r := rngFor(s.opts.Seed, "story-click", h)
		u := &s.users[c.user]
		for k := range 2 {
			add(message{t: c.t.Add(time.Duration(k*7) * time.Minute), route: "inbound", recipient: u.email,
				sender: "it-helpdesk@" + pick(r, lookalikeDomains), subject: "Action required: password expiry",
				senderIP: fmt.Sprintf("185.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(250)), verdict: "badurl"})
		}
	}
	if d := p.dlp; floorDiv(d.t.Unix(), 3600) == h {
		u := &s.users[d.user]
		for k := range 3 {
			add(message{t: d.t.Add(time.Duration(k*4) * time.Minute), route: "outbound", sender: u.email, recipient: d.target,
				subject: "Customer card list " + strconv.Itoa(k+1), senderIP: u.office, verdict: "dlp", policy: "PCI - Card Numbers"})
		}
	}
	if l := p.large; floorDiv(l.t.Unix(), 3600) == h {
		u := &s.users[l.user]
		add(message{t: l.t, route: "outbound", sender: u.email, recipient: l.target, subject: "files",
			senderIP: u.office, verdict: "clean", size: l.size, attachment: "export_" + strconv.Itoa(1000+l.size%9000) + ".zip"})
	}
	return out
}

// Stories returns the embedded attacks that start in [from, to] and are visible now (between the start of data
// and Now), oldest first. Records of a story that lie after Now are left out of it.
func (s *Sim) Stories(from, to time.Time) []Story {
	lo, hi, ok := s.visible(from, to)
	if !ok {
		return nil
	}
	var out []Story
	for _, sp := range s.Sprays(lo, hi) {
		st := Story{Kind: StoryPasswordSpray, Users: dedupe(sp.Users), Start: sp.Start, End: sp.End, IPs: sp.IPs,
			Detail: map[string]string{"failures": strconv.Itoa(sp.Failures)}}
		if sp.Compromised != "" {
			st.Detail["compromised"] = sp.Compromised
		}
		// The failures, and the attacker's successful logon when there is one.
		st.Times, st.RecordIDs = s.auditStoryRecords(sp.Start, sp.End.Add(3*time.Minute), func(e event) bool {
			return (e.rec.AuditType == typeFailed || e.rec.AuditType == typeLogon) && slices.ContainsFunc(sp.IPs, func(ip string) bool {
				return strings.Contains(e.rec.EventInfo, "IP: "+ip+",")
			})
		})
		out = append(out, finish(st))
	}
	for day := floorDiv(lo.Unix(), 86400); day <= floorDiv(hi.Unix(), 86400); day++ {
		p := s.plan(day)
		inRange := func(t time.Time) bool { return !t.Before(lo) && !t.After(hi) }
		if c := p.country; inRange(c.t) {
			u := &s.users[c.user]
			st := Story{Kind: StoryNewCountry, Users: []string{u.email}, IPs: []string{c.ip},
				Detail: map[string]string{"country": c.country, "usualIP": u.office}}
			st.Times, st.RecordIDs = s.auditStoryRecords(c.t.Add(-time.Minute), c.t, func(e event) bool { return e.story == StoryNewCountry })
			out = append(out, finish(st))
		}
		if f := p.forward; inRange(f.t) {
			u := &s.users[f.user]
			st := Story{Kind: StoryForwardingRule, Users: []string{u.email}, IPs: []string{f.ip},
				Detail: map[string]string{"target": f.target}}
			st.Times, st.RecordIDs = s.auditStoryRecords(f.t, f.t, func(e event) bool { return e.story == StoryForwardingRule })
			out = append(out, finish(st))
		}
		for _, ms := range []struct {
			kind string
			at   storyAt
		}{{StoryMaliciousClick, p.click}, {StoryDLPHold, p.dlp}, {StoryLargeMail, p.large}} {
			if !inRange(ms.at.t) {
				continue
			}
			st := Story{Kind: ms.kind, Users: []string{s.users[ms.at.user].email}, Detail: map[string]string{}}
			for _, msg := range s.storyMessages(floorDiv(ms.at.t.Unix(), 3600)) {
				if msg.t.After(hi) || !storyOwns(ms.kind, msg) {
					continue
				}
				st.Times = append(st.Times, msg.t)
				st.RecordIDs = append(st.RecordIDs, msg.messageID)
				if msg.route == "inbound" {
					st.IPs = dedupe(append(st.IPs, msg.senderIP))
				}
			}
			switch ms.kind {
			case StoryMaliciousClick:
				st.Detail["safeScore"] = "F"
			case StoryDLPHold:
				st.Detail["target"], st.Detail["policy"] = ms.at.target, "PCI - Card Numbers"
			case StoryLargeMail:
				st.Detail["target"], st.Detail["size"] = ms.at.target, strconv.Itoa(ms.at.size)
			}
			if len(st.Times) > 0 {
				out = append(out, finish(st))
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Story) int { return a.Start.Compare(b.Start) })
	return out
}

// storyOwns tells which mail story a story message belongs to.
func storyOwns(kind string, msg message) bool {
	switch kind {
	case StoryMaliciousClick:
		return msg.verdict == "badurl"
	case StoryDLPHold:
		return msg.verdict == "dlp"
	default:
		return msg.size > 0
	}
}

// auditStoryRecords returns the times and ids of the audit records in [from, to] that keep selects.
func (s *Sim) auditStoryRecords(from, to time.Time, keep func(event) bool) ([]time.Time, []string) {
	var times []time.Time
	var ids []string
	for h := floorDiv(from.Unix(), 3600); h <= floorDiv(to.Unix(), 3600); h++ {
		for _, e := range s.bucket(h) {
			if !e.t.Before(from) && !e.t.After(to) && !e.t.After(s.opts.Now()) && keep(e) {
				times = append(times, e.t)
				ids = append(ids, e.rec.ID)
			}
		}
	}
	return times, ids
}

// finish sets Start and End from Times.
func finish(st Story) Story {
	if len(st.Times) > 0 {
		st.Start, st.End = st.Times[0], st.Times[len(st.Times)-1]
	}
	return st
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
