package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/ueba"
)

// UEBAOptions sizes the behaviour analytics benchmark.
type UEBAOptions struct {
	Users int
	Days  int
	// Mails is the outbound messages per user per day (inbound are twice that; logins two a day).
	Mails int
	Seed  uint64
}

// UEBARun is one pass over the generated history.
type UEBARun struct {
	Rate
	// RSSBytes is the process's resident memory at the end of the run, after its garbage was collected and
	// returned to the OS (0 where /proc is missing); LiveHeapBytes the Go heap still in use then (the engine's state).
	RSSBytes      uint64 `json:"rss_bytes"`
	LiveHeapBytes uint64 `json:"live_heap_bytes"`
	Memory        Memory `json:"memory"`
	Findings      int64  `json:"findings"`
	Notable       int64  `json:"notable"`
	Scopes        int    `json:"scopes"`
	Values        int    `json:"interned_values"`
	Models        int    `json:"models"`
	Rules         int    `json:"rules"`
}

// UEBAResult compares the engine with every model against the engine with fact and session rules only.
type UEBAResult struct {
	Options    UEBAOptions `json:"options"`
	WithModels UEBARun     `json:"with_models"`
	FactsOnly  UEBARun     `json:"facts_only"`
	// Ratio is the rate with models over the rate without; CPURatio the same by CPU time, which a busy machine
	// disturbs less than wall time.
	Ratio    float64 `json:"ratio"`
	CPURatio float64 `json:"cpu_ratio"`
	// PeakRSSBytes is the process's highest resident memory over both runs (VmHWM; 0 where /proc is missing).
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
}

// UEBA generates opts.Days of history for opts.Users users, day by day (never all in memory), and runs it through
// the behaviour engine twice on one core: without models first, then with all built-in models and rules, so the
// resident memory at the end of the second run includes everything the models learnt.
func UEBA(opts UEBAOptions) (UEBAResult, error) {
	res := UEBAResult{Options: opts}
	c, err := ueba.LoadBuiltin()
	if err != nil {
		return res, err
	}
	var facts []*ueba.Rule
	for _, r := range c.Rules {
		if r.Model == "" {
			facts = append(facts, r)
		}
	}
	err = oneCore(func() error {
		res.FactsOnly = uebaRun("facts and session rules only", nil, facts, opts)
		res.WithModels = uebaRun("all models and rules", c.Models, c.Rules, opts)
		return nil
	})
	res.Ratio = ratio(res.WithModels.PerSecond, res.FactsOnly.PerSecond)
	res.CPURatio = ratio(res.FactsOnly.CPUSeconds, res.WithModels.CPUSeconds)
	res.PeakRSSBytes = peakResidentBytes()
	return res, err
}

func uebaRun(name string, models []*ueba.Model, rules []*ueba.Rule, opts UEBAOptions) UEBARun {
	eng := ueba.New(models, rules, ueba.Options{Context: benchContext{}})
	g := newHistory(opts)
	p := startProbe()
	var n int64
	for d := range opts.Days {
		// A day is planned compactly and handed to the engine an hour at a time, as castwatch's analytics reads
		// the store: a 10,000-user day of full events would itself take hundreds of megabytes.
		plan := g.plan(d)
		for len(plan) > 0 {
			hour := plan[0].at.Truncate(time.Hour)
			k := 0
			for k < len(plan) && plan[k].at.Before(hour.Add(time.Hour)) {
				k++
			}
			batch := g.events(d, plan[:k])
			n += int64(len(batch))
			eng.Process(batch)
			plan = plan[k:]
		}
	}
	eng.Advance(g.start.AddDate(0, 0, opts.Days+1))
	wall, cpu, mem := p.stop(n)
	// What stays resident is the engine's state: collect the garbage of the run and return it to the OS first.
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := eng.Stats()
	return UEBARun{Rate: newRate(name, n, wall, cpu), RSSBytes: residentBytes(), LiveHeapBytes: ms.HeapAlloc,
		Memory: mem, Findings: st.Findings, Notable: st.Notable, Scopes: st.Scopes, Values: st.Values,
		Models: len(models), Rules: len(rules)}
}

// residentBytes reads the process's resident set size from /proc/self/statm.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// peakResidentBytes reads the process's peak resident set size (VmHWM) from /proc/self/status.
func peakResidentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// history generates a tenant's behaviour: each user logs in from their own country twice a day on workdays, sends
// mail to a stable set of external domains (a few popular, a long tail), and receives twice as much.
type history struct {
	opts    UEBAOptions
	start   time.Time
	domains []string
}

func newHistory(opts UEBAOptions) *history {
	h := &history{opts: opts, start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 2000 {
		h.domains = append(h.domains, fmt.Sprintf("partner%d.example", i))
	}
	return h
}

var benchCountries = []string{"GB", "US", "DE", "FR", "NL", "IE", "ZA", "AU"}

// planned is one event of a day before it is built: its time, user, kind and the seed of its content.
type planned struct {
	at   time.Time
	seed uint64
	user int32
	i    int16
	kind byte // 'l' login, 'o' outbound mail, 'i' inbound mail
}

// plan returns the events of day d in time order, compactly (see events).
func (h *history) plan(d int) []planned {
	r := rand.New(rand.NewPCG(h.opts.Seed, uint64(d)))
	date := h.start.AddDate(0, 0, d)
	weekend := date.Weekday() == time.Saturday || date.Weekday() == time.Sunday
	out := make([]planned, 0, h.opts.Users*(3*h.opts.Mails+2))
	for u := range h.opts.Users {
		if weekend && u%10 != 0 {
			continue
		}
		add := func(kind byte, n int) {
			for i := range n {
				at := date.Add(8*time.Hour + time.Duration(r.IntN(10*3600))*time.Second)
				out = append(out, planned{at: at, seed: r.Uint64(), user: int32(u), i: int16(i), kind: kind})
			}
		}
		add('l', 2)
		add('o', h.opts.Mails)
		add('i', 2*h.opts.Mails)
	}
	slices.SortFunc(out, func(a, b planned) int { return a.at.Compare(b.at) })
	return out
}

// events builds the planned events of day d: each user logs in from their own country, sends mail to a stable set
// of external domains (a few popular, a long tail) and receives twice as much from anywhere.
func (h *history) events(d int, plan []planned) []schema.Event {
	out := make([]schema.Event, 0, len(plan))
	for _, p := range plan {
		r := rand.New(rand.NewPCG(p.seed, 0))
		u := int(p.user)
		user := fmt.Sprintf("user%05d@corp.example", u)
		id := func(kind string) string { return fmt.Sprintf("%s-%d-%d-%d", kind, d, u, p.i) }
		switch p.kind {
		case 'l':
			ip := fmt.Sprintf("%d.%d.%d.%d", 10+u%len(benchCountries), u/256%256, u%256, 1+d%3)
			out = append(out, schema.Event{ID: id("l"), Time: p.at, Tenant: "acme", Table: "Audit_CL",
				EventType: schema.EventAppLogin, UserEmail: user, SrcIP: ip, App: "Administration Console", Outcome: schema.OutcomeSuccess})
		case 'o':
			dom := h.domains[(u*7+int(math.Abs(r.NormFloat64())*8))%len(h.domains)]
			out = append(out, schema.Event{ID: id("o"), Time: p.at, Tenant: "acme", Table: "Seg_Cg_CL",
				EventType: schema.EventDLPEmailAlertOut, UserEmail: user, Sender: user, EmailDomain: "corp.example",
				Recipients: []string{"x@" + dom}, RecipientDomains: []string{dom}, MessageID: id("m"), Direction: "outbound",
				Bytes: int64(math.Exp(10 + r.NormFloat64())), Subject: "re: order " + strconv.Itoa(r.IntN(50)),
				AttachmentNames: attachments(r), AttachmentExtensions: []string{"pdf"}})
		default:
			dom := h.domains[r.IntN(len(h.domains))]
			out = append(out, schema.Event{ID: id("i"), Time: p.at, Tenant: "acme", Table: "Seg_Cg_CL",
				EventType: schema.EventDLPEmailAlertIn, UserEmail: user, Sender: "y@" + dom, Recipients: []string{user},
				MessageID: id("n"), Direction: "inbound", Bytes: 20_000})
		}
	}
	return out
}

func attachments(r *rand.Rand) []string {
	n := r.IntN(3)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("doc%d.pdf", r.IntN(100))
	}
	return out
}

// benchContext places each generated address in a country by its first octet and knows no list entries but
// gmail.com as a public mail domain.
type benchContext struct{}

func (benchContext) Country(ip string) string {
	first, _, _ := strings.Cut(ip, ".")
	n, err := strconv.Atoi(first)
	if err != nil || n < 10 || n >= 10+len(benchCountries) {
		return ""
	}
	return benchCountries[n-10]
}
func (benchContext) PeerGroup(user string) string { return "dept" + user[len(user)-14:len(user)-13] }
func (benchContext) InList(list, v string) bool {
	return list == "public_mail_domains" && v == "gmail.com"
}
func (benchContext) Keyword(string, string) (string, bool) { return "", false }
