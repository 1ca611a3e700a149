package sim

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// Audit categories and types the generator uses. Shapes follow real records (corpus audit_events); the policy and
// role type names are inferred.
const (
	catAuth      = "authentication_logs"
	catAccount   = "account_logs"
	catCase      = "case_review_logs"
	catReporting = "reporting_logs"
	catRoles     = "user_account_and_role_logs"
	catPolicy    = "policy_logs"
	catProfile   = "profile_group_logs"
	catAccess    = "mimecast_access_logs"

	typeLogon     = "User Logged On"
	typeFailed    = "Logon Authentication Failed"
	typeChallenge = "Logon Requires Challenge"
)

// event is one generated audit record with its parsed time.
type event struct {
	t     time.Time
	rec   schema.AuditRecord
	story string // the story the record belongs to, "" for everyday records
}

// sprayAttempt is one logon of the daily password spray.
type sprayAttempt struct {
	t      time.Time
	ip     string
	user   int
	app    string
	reason string // empty for the final successful logon
}

// daySpray is the password-spray story of one UTC day.
type daySpray struct {
	hour     int64 // unix hour the spray happens in
	attempts []sprayAttempt
}

// Spray describes one embedded password-spray attack (ground truth for detection tests).
type Spray struct {
	// Start and End are the first and last failed logon.
	Start, End time.Time
	// IPs are the attacking source addresses.
	IPs []string
	// Users are the targeted mailboxes, in attack order (may repeat).
	Users []string
	// Failures is the number of Logon Authentication Failed records.
	Failures int
	// Compromised is the mailbox the attacker then logged on to from a spray IP; empty if none.
	Compromised string
}

var sprayPrefixes = []string{"185.220.101.%d", "45.155.205.%d", "193.142.146.%d", "91.240.118.%d", "194.26.29.%d"}

// spray returns the (cached) password spray of a UTC day.
func (s *Sim) spray(day int64) daySpray {
	s.mu.Lock()
	sp, ok := s.days[day]
	s.mu.Unlock()
	if ok {
		return sp
	}
	if s.quiet(day) {
		sp.hour = -1 // no attempts: a benign day
		s.mu.Lock()
		s.days[day] = sp
		s.mu.Unlock()
		return sp
	}
	r := rngFor(s.opts.Seed, "spray", day)
	sp.hour = day*24 + int64(r.IntN(24))
	t := time.Unix(sp.hour*3600, 0).UTC().Add(time.Duration(r.IntN(50*60)) * time.Second)
	ips := make([]string, 2+r.IntN(2))
	for i := range ips {
		ips[i] = fmt.Sprintf(pick(r, sprayPrefixes), 2+r.IntN(250))
	}
	failures := 5 + r.IntN(5)
	order := r.Perm(len(s.users))
	app := pick(r, []string{"Mimecast Personal Portal", "SMTP-MTA2", "MPP"})
	for i := range failures {
		reason := "Wrong password"
		if i == failures-1 && r.IntN(3) == 0 {
			reason = "Account locked"
		}
		sp.attempts = append(sp.attempts, sprayAttempt{t: t, ip: ips[i%len(ips)], user: order[i%len(order)], app: app, reason: reason})
		t = t.Add(time.Duration(10+r.IntN(36)) * time.Second)
	}
	if r.IntN(2) == 0 {
		sp.attempts = append(sp.attempts, sprayAttempt{t: t.Add(time.Duration(20+r.IntN(60)) * time.Second),
			ip: pick(r, ips), user: order[r.IntN(min(failures, len(order)))], app: app})
	}
	s.mu.Lock()
	s.days[day] = sp
	s.mu.Unlock()
	return sp
}

// Sprays returns the password sprays whose first failure lies in [from, to] and is visible (between the start
// of data and Now), oldest first.
func (s *Sim) Sprays(from, to time.Time) []Spray {
	lo, hi, ok := s.visible(from, to)
	if !ok {
		return nil
	}
	var out []Spray
	for day := floorDiv(lo.Unix(), 86400); day <= floorDiv(hi.Unix(), 86400); day++ {
		sp := s.spray(day)
		if len(sp.attempts) == 0 {
			continue
		}
		first := sp.attempts[0].t
		if first.Before(lo) || first.After(hi) {
			continue
		}
		o := Spray{Start: first}
		seen := map[string]bool{}
		for _, a := range sp.attempts {
			if a.reason == "" {
				if !a.t.After(hi) {
					o.Compromised = s.users[a.user].email
				}
				continue
			}
			if a.t.After(hi) {
				continue
			}
			o.End = a.t
			o.Failures++
			o.Users = append(o.Users, s.users[a.user].email)
			if !seen[a.ip] {
				seen[a.ip] = true
				o.IPs = append(o.IPs, a.ip)
			}
		}
		out = append(out, o)
	}
	return out
}

// bucket returns the (cached) records generated for one unix hour, oldest first.
func (s *Sim) bucket(h int64) []event {
	s.mu.Lock()
	b, ok := s.buckets[h]
	s.mu.Unlock()
	if ok {
		return b
	}
	b = s.generate(h)
	s.mu.Lock()
	s.buckets[h] = b
	s.mu.Unlock()
	return b
}

// gen accumulates the records of one hour.
type gen struct {
	s    *Sim
	r    *rand.Rand
	base time.Time
	evs  []event
}

func (g *gen) add(t time.Time, auditType, category, user, info string) {
	g.evs = append(g.evs, event{t: t, rec: schema.AuditRecord{
		AuditType: auditType, User: user, EventTime: schema.FormatAPITime(t), EventInfo: info, Category: category,
	}})
}

// at returns the bucket start plus sec seconds.
func (g *gen) at(sec int) time.Time { return g.base.Add(time.Duration(sec) * time.Second) }

// generate builds the records of unix hour h. It depends only on the seed, the user list and h.
func (s *Sim) generate(h int64) []event {
	g := &gen{s: s, r: rngFor(s.opts.Seed, "hour", h), base: time.Unix(h*3600, 0).UTC()}
	factor := s.activity(g.base)

	// Everyday sessions: logons and administration.
	for range poisson(g.r, float64(len(s.users))*0.4*factor) {
		if g.r.IntN(100) < 15 {
			g.adminAction(&s.users[g.r.IntN(s.admins)])
			continue
		}
		u := &s.users[g.r.IntN(len(s.users))]
		switch {
		case g.r.IntN(40) == 0:
			g.passwordChange(u)
		default:
			g.logon(u, g.at(g.r.IntN(3600-15)))
		}
	}
	// Benign failed logons: at most one per quarter hour, so ordinary traffic never has more than three
	// failures inside any 30-minute window.
	pFail := min(0.5, 0.004*float64(len(s.users))*factor+0.02)
	for q := range 4 {
		if g.r.Float64() < pFail {
			g.benignFailure(&s.users[g.r.IntN(len(s.users))], q*900+g.r.IntN(900-130))
		}
	}
	// Scheduled work.
	if floorMod(h, 6) == 0 {
		g.threatIntel()
	}
	if floorMod(h, 4) == 1 {
		g.add(g.at(60+g.r.IntN(600)), "Completed Directory Sync", catAccount, "", "No changes found.")
	}
	// The daily password spray.
	if sp := s.spray(floorDiv(h, 24)); sp.hour == h {
		for _, a := range sp.attempts {
			u := &s.users[a.user]
			if a.reason == "" {
				g.add(a.t, typeLogon, catAuth, u.email, authInfo("Successful", u, a.t, a.ip, a.app, "Cloud", ""))
				continue
			}
			g.add(a.t, typeFailed, catAuth, u.email, authInfo("Failed", u, a.t, a.ip, a.app, "Cloud", ", Reason: "+a.reason))
		}
	}

	g.addAuditStories(h)

	tenant := fmt.Sprintf("%d|%s", len(s.users), s.opts.Domain)
	for i := range g.evs {
		g.evs[i].rec.ID = auditID(s.opts.Seed, tenant, h, i)
	}
	slices.SortStableFunc(g.evs, func(a, b event) int { return a.t.Compare(b.t) })
	return g.evs
}

// auditID is an opaque, unique, base64url id shaped like Mimecast's ("eNq…").
func auditID(seed int64, tenant string, h int64, i int) string {
	a := hashBytes(seed, "audit-id", tenant, strconv.FormatInt(h, 10), strconv.Itoa(i))
	b := hashBytes(seed, "audit-id-2", tenant, strconv.FormatInt(h, 10), strconv.Itoa(i))
	return "eNq" + base64.RawURLEncoding.EncodeToString(append(a, b[:24]...))
}

// activity is the share of peak activity at t: working hours of the account's zone, quieter at weekends.
func (s *Sim) activity(t time.Time) float64 {
	l := t.Add(30 * time.Minute).In(s.acct)
	f := 0.08
	switch h := l.Hour(); {
	case h >= 8 && h < 18:
		f = 1
	case h >= 6 && h < 8, h >= 18 && h < 22:
		f = 0.35
	}
	if wd := l.Weekday(); wd == time.Saturday || wd == time.Sunday {
		f *= 0.25
	}
	return f
}

// authInfo renders an authentication eventInfo ("Successful authentication for …").
func authInfo(kind string, u *user, t time.Time, ip, app, method, extra string) string {
	d, c := u.zone.formatLocal(t)
	return fmt.Sprintf("%s authentication for %s <%s>, Date: %s, Time: %s, IP: %s, Application: %s, Method: %s%s",
		kind, u.email, u.display, d, c, ip, app, method, extra)
}

// ipFor picks the source address of a user's call from app: their office, home or phone, all in one country.
func (g *gen) ipFor(u *user, app string) string {
	switch {
	case u.steady:
		return u.office
	case app == "Mobile" && g.r.IntN(10) < 7:
		return pick(g.r, u.net.mobile).draw(g.r)
	case app == "Administration Console" && !u.remote:
		return u.office
	case u.remote && g.r.IntN(10) < 8, !u.remote && g.r.IntN(10) < 2:
		return u.homeIP
	default:
		return u.office
	}
}

// logon emits a successful logon at t, preceded by a challenge for users with a second factor.
func (g *gen) logon(u *user, t time.Time) {
	app, method := pick(g.r, u.apps), pick(g.r, u.methods)
	ip := g.ipFor(u, app)
	if u.mfa {
		g.add(t, typeChallenge, catAuth, u.email, authInfo("Intermediate", u, t, ip, app, method, ", 2FA: TOTP"))
		t = t.Add(time.Duration(2+g.r.IntN(8)) * time.Second)
		g.add(t, typeLogon, catAuth, u.email, authInfo("Successful", u, t, ip, app, method, ", 2FA: TOTP"))
		return
	}
	g.add(t, typeLogon, catAuth, u.email, authInfo("Successful", u, t, ip, app, method, ""))
}

// benignFailure emits one ordinary failed logon at offset sec, often followed by a successful retry.
func (g *gen) benignFailure(u *user, sec int) {
	app, method := pick(g.r, u.apps), pick(g.r, u.methods)
	ip := g.ipFor(u, app)
	reason := []string{"Wrong password", "Wrong password", "Wrong password", "Account locked", "Account disabled"}[g.r.IntN(5)]
	t := g.at(sec)
	g.add(t, typeFailed, catAuth, u.email, authInfo("Failed", u, t, ip, app, method, ", Reason: "+reason))
	if reason == "Wrong password" && g.r.IntN(10) < 6 {
		t = t.Add(time.Duration(20+g.r.IntN(100)) * time.Second)
		g.add(t, typeLogon, catAuth, u.email, authInfo("Successful", u, t, ip, app, method, ""))
	}
}

// passwordChange emits the short user password record (real records carry no Date/Time/IP).
func (g *gen) passwordChange(u *user) {
	g.add(g.at(g.r.IntN(3600)), "User Password Changed", catRoles, u.email,
		fmt.Sprintf("Password reset for user: %s User Password Changed, Remote IP is null", u.email))
}

// threatIntel emits a scheduled threat-intel feed download by an integration.
func (g *gen) threatIntel() {
	admin := &g.s.users[0]
	t := g.at(g.r.IntN(300))
	feed := pick(g.r, []string{"malware_grid", "malware_customer"})
	stamp := strings.Replace(t.In(g.s.acct).Format("20060102150405.000"), ".", "", 1)
	d, c := zone{style: styleCompact}.formatLocal(t)
	g.add(t, "Threat Intel Feed Download", catReporting, admin.email, fmt.Sprintf(
		"Threat intel multiple feeds download  - %s_csv_%s.zip, Date: %s, Time: %s, IP: %s, Application: %s",
		feed, stamp, d, c, g.s.integIP, pick(g.r, []string{"Integrations", "Integrations", "Azure Sentinel"})))
}

var policyNames = []string{
	"Block Executables (Attachment Management)", "Default Anti-Spoofing", "Impersonation Protection - Finance",
	"URL Protection - All Users", "Attachment Protection - Sandbox", "Content Examination - PCI", "Greylisting",
}

var roleNames = []string{"Basic Administrator", "Full Administrator", "Discovery Officer", "Security Analyst"}

var searchWords = []string{"invoice", "payment", "password reset", "wire transfer", "docusign", "urgent", "payroll"}

// adminAction emits one administrator activity record.
func (g *gen) adminAction(u *user) {
	t := g.at(g.r.IntN(3600))
	ip := g.ipFor(u, "Administration Console")
	acct := zone{loc: g.s.acct, style: styleNumeric}
	target := &g.s.users[g.r.IntN(len(g.s.users))]
	performed := func(auditType, category, what string) {
		d, c := acct.formatLocal(t)
		g.add(t, auditType, category, u.email, fmt.Sprintf("Action Performed - %s by %s<%s> Date: %s Time: %s IP: %s Application: Administration Console",
			what, u.email, u.name, d, c, ip))
	}
	caseReview := func(auditType, what string) {
		d, c := zone{style: styleCompact}.formatLocal(t)
		g.add(t, auditType, catCase, u.email, fmt.Sprintf("%s, Date: %s, Time: %s, IP: %s, Application: mimecast-case-review", what, d, c, ip))
	}
	switch weighted(g.r, []int{5, 3, 3, 2, 2, 2, 1, 1, 1, 1}) {
	case 0:
		g.logon(u, t)
	case 1:
		caseReview("Search Action", fmt.Sprintf(
			`Executed Search - Source: Search, Search Criteria: {"keywords":%q,"mailboxes":[%q],"route":"ALL","start":%q,"end":%q}`,
			pick(g.r, searchWords), target.email, schema.FormatAPITime(t.Add(-30*24*time.Hour)), schema.FormatAPITime(t)))
	case 2:
		performed("Policy Changed", catPolicy, fmt.Sprintf("Policy updated: %s", pick(g.r, policyNames)))
	case 3:
		caseReview("Message Action", fmt.Sprintf(
			"Viewed Message - Source: Search, From: <%s> %s, To: <%s> %s, Subject: %s, Processed: %s, Viewed Content: True",
			target.name, target.email, u.name, u.email, pick(g.r, []string{"Q3 forecast", "Invoice overdue", "Re: contract"}),
			t.Add(-time.Duration(1+g.r.IntN(72))*time.Hour).Format("2006-01-02 15:04:05-0700")))
	case 4:
		verb := pick(g.r, []string{"Added user %s to role %s", "Removed user %s from role %s"})
		performed("Role Changed", catRoles, fmt.Sprintf(verb, target.email, pick(g.r, roleNames)))
	case 5:
		caseReview("Case Action", "Viewed Case - Case: "+pick(g.r, []string{"Class Action", "HR-2291", "Phishing Wave"}))
	case 6:
		caseReview("Review Set Action", "Viewed Review Set Details - Case: Class Action, Review Set: Contracts")
	case 7:
		performed("Folder Log Entry", catProfile, "Created New Folder")
	case 8:
		performed("Custom Report Definition Created", catReporting,
			`Custom Report Definition Created with name "Weekly threats" and description "all users - per email report"`)
	default:
		performed("Mimecast Support Login", catAccess, u.email+" logged into this account.")
	}
}

// visible clamps [from, to] to the data that exists now: [Start-Days, Now()]. ok is false when nothing remains.
func (s *Sim) visible(from, to time.Time) (lo, hi time.Time, ok bool) {
	lo, hi = from.UTC(), to.UTC()
	if lo.Before(s.origin) {
		lo = s.origin
	}
	if now := s.opts.Now().UTC(); hi.After(now) {
		hi = now
	}
	return lo, hi, !lo.After(hi)
}

// collect returns the records with eventTime in [from, to] (inclusive) that exist at asOf, newest first.
func (s *Sim) collect(from, to, asOf time.Time, keep func(*schema.AuditRecord) bool) []schema.AuditRecord {
	if to.After(asOf) {
		to = asOf
	}
	lo, hi, ok := s.visible(from, to)
	if !ok {
		return nil
	}
	var out []event
	for h := floorDiv(lo.Unix(), 3600); h <= floorDiv(hi.Unix(), 3600); h++ {
		for _, e := range s.bucket(h) {
			if e.t.Before(lo) || e.t.After(hi) || (keep != nil && !keep(&e.rec)) {
				continue
			}
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b event) int {
		if c := b.t.Compare(a.t); c != 0 {
			return c
		}
		return cmp.Compare(a.rec.ID, b.rec.ID)
	})
	recs := make([]schema.AuditRecord, len(out))
	for i, e := range out {
		recs[i] = e.rec
	}
	return recs
}

// AuditRecords returns every audit record with eventTime in [from, to] (inclusive) that exists now, in the order
// the API serves them: newest first, ties by id.
func (s *Sim) AuditRecords(from, to time.Time) []schema.AuditRecord {
	return s.collect(from, to, s.opts.Now(), nil)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
