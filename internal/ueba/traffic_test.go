package ueba

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// traffic generates a tenant's benign behaviour for tests and benchmarks: every user works office hours on
// weekdays from their office's addresses with one browser, uses a stable set of applications and activities,
// mails a stable set of partner domains (and now and then a colleague, a one-off new domain or their own
// personal address) and receives mail. Every outbound message is recorded twice, as the gateway does: a receipt
// without size or destination, then the delivery a few seconds later.
type traffic struct {
	users []trafficUser
	// partners are the partner domains; partnerIP their mail servers' addresses.
	partners  []string
	partnerIP map[string]string
	start     time.Time
	seed      uint64
	ctx       TestContext
}

type trafficUser struct {
	email, personal, peer, agent, ip string
	// apps are the applications the user works in, each with its activities.
	apps       []string
	activities map[string][]string
	partners   []string
}

var trafficNames = []string{"ann.lee", "bob.stone", "cy.ford", "dee.moss", "eli.hart", "fay.lund", "gus.reed",
	"hal.kemp", "ivy.cole", "jon.pike", "kai.wolf", "liv.nash", "max.ruiz", "nia.ford", "oli.voss", "pia.berg",
	"raj.iyer", "sam.holt", "tia.romm", "uma.dale"}

// newTraffic returns a tenant of n users in four departments: every seventh user is an administrator (department
// it); each department works with its own six partner domains, of which each member mails four.
func newTraffic(n int, seed uint64) *traffic {
	t := &traffic{start: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), seed: seed, partnerIP: map[string]string{},
		ctx: TestContext{Countries: map[string]string{}, Peers: map[string]string{}, Lists: map[string][]string{
			"public_mail_domains": {"gmail.com", "outlook.com", "proton.me"},
			"tor_exit_nodes":      {"185.220.101.7"},
		}}}
	countries := []string{"GB", "DE", "US", "FR", "NL"}
	for i := range 24 {
		d := fmt.Sprintf("partner%d.example", i)
		t.partners = append(t.partners, d)
		ip := fmt.Sprintf("203.0.%d.%d", i/250, 1+i%250)
		t.partnerIP[d] = ip
		t.ctx.Countries[ip] = countries[i%len(countries)]
	}
	t.ctx.Countries["185.220.101.7"] = "RU"
	t.ctx.Countries["142.250.0.1"] = "US"
	peers := []string{"finance", "sales", "engineering", "it"}
	portal := []string{"Search", "View Message"}
	for i := range n {
		name := trafficNames[i%len(trafficNames)]
		if i >= len(trafficNames) {
			name += fmt.Sprint(i / len(trafficNames))
		}
		u := trafficUser{email: name + "@corp.example", personal: strings.ReplaceAll(name, ".", "") + "77@gmail.com",
			peer: peers[i%3], agent: fmt.Sprintf("Mozilla/5.0 (build %d)", i%4),
			ip: fmt.Sprintf("198.51.100.%d", 10+i%5), apps: []string{"Mimecast Personal Portal"},
			activities: map[string][]string{"Mimecast Personal Portal": portal}}
		if i%4 == 3 {
			u.ip = fmt.Sprintf("192.0.2.%d", 10+i%3)
		}
		if i%7 == 0 {
			u.peer = "it"
			u.apps = append(u.apps, "Administration Console")
			u.activities["Administration Console"] = []string{"Release Message", "Search Logs"}
		}
		dept := slices.Index(peers, u.peer)
		for j := range 4 {
			u.partners = append(u.partners, t.partners[dept*6+(i+j)%6])
		}
		t.ctx.Countries[u.ip] = map[bool]string{false: "GB", true: "DE"}[strings.HasPrefix(u.ip, "192.0.2.")]
		t.ctx.Peers[u.email] = u.peer
		t.users = append(t.users, u)
	}
	return t
}

// day returns the events of day d (0 = the first day), unsorted.
func (t *traffic) day(d int) []schema.Event {
	r := rand.New(rand.NewPCG(t.seed, uint64(d)))
	date := t.start.AddDate(0, 0, d)
	if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return nil
	}
	var out []schema.Event
	for i, u := range t.users {
		id := func(kind string, k int) string { return fmt.Sprintf("%s-%d-%d-%d", kind, d, i, k) }
		at := func() time.Time { return date.Add(8*time.Hour + time.Duration(r.IntN(9*3600))*time.Second) }
		login := at()
		login = login.Add(-time.Duration(login.Hour()-8) * time.Hour)
		out = append(out, t.appEvent(u, id("l", 0), login, schema.EventAppLogin, u.apps[0], "Log In"))
		for k := range 3 {
			app := u.apps[r.IntN(len(u.apps))]
			acts := u.activities[app]
			out = append(out, t.appEvent(u, id("a", k), at(), schema.EventAppActivity, app, acts[r.IntN(len(acts))]))
		}
		for k := range 4 + r.IntN(3) {
			out = append(out, t.mail(u, id("o", k), at(), t.recipient(r, i, d, k))...)
		}
		for k := range 5 {
			p := u.partners[r.IntN(len(u.partners))]
			out = append(out, schema.Event{ID: id("i", k), Time: at(), Tenant: "acme", Table: "Seg_Cg_CL",
				EventType: schema.EventDLPEmailAlertIn, UserEmail: u.email, Sender: "news@" + p, SenderDomain: p,
				Recipients: []string{u.email}, RecipientDomains: []string{"corp.example"}, Direction: "inbound",
				MessageID: id("mi", k), Subject: "order update", Bytes: 20_000})
		}
	}
	return out
}

// recipient picks an outbound recipient: mostly the user's partners (the first ones more often), sometimes a
// colleague, now and then the user's own personal address or a partner domain nobody has mailed yet.
func (t *traffic) recipient(r *rand.Rand, i, d, k int) string {
	u := t.users[i]
	switch x := r.IntN(100); {
	case x < 8:
		return t.users[(i+1)%len(t.users)].email
	case x < 11:
		return u.personal
	case x < 13:
		return fmt.Sprintf("info@oneoff%d-%d-%d.example", d, i, k)
	case x < 50:
		return "orders@" + u.partners[0]
	default:
		return "team@" + u.partners[1+r.IntN(len(u.partners)-1)]
	}
}

func (t *traffic) appEvent(u trafficUser, id string, at time.Time, typ, app, activity string) schema.Event {
	return schema.Event{ID: id, Time: at, Tenant: "acme", Table: "Audit_CL", EventType: typ, UserEmail: u.email,
		SrcIP: u.ip, App: app, Activity: activity, Outcome: schema.OutcomeSuccess,
		Fields: map[string]any{"userAgent": u.agent}}
}

// mail returns one outbound message as its receipt and its delivery 4 s later.
func (t *traffic) mail(u trafficUser, id string, at time.Time, to string) []schema.Event {
	dom := domainOf(to)
	receipt := schema.Event{ID: id + "-r", Time: at, Tenant: "acme", Table: "Seg_Cg_CL",
		EventType: schema.EventDLPEmailAlertOut, UserEmail: u.email, Sender: u.email, SenderDomain: "corp.example",
		EmailDomain: "corp.example", Recipients: []string{to}, RecipientDomains: []string{dom}, Direction: "outbound",
		MessageID: "<" + id + "@corp.example>", Subject: "re: order"}
	delivery := receipt
	delivery.ID, delivery.Time = id+"-d", at.Add(4*time.Second)
	delivery.Bytes = 40_000
	if dom != "corp.example" {
		ip := t.partnerIP[dom]
		if ip == "" {
			ip = "142.250.0.1"
		}
		delivery.Fields = map[string]any{"destinationIp": ip}
	}
	return []schema.Event{receipt, delivery}
}
