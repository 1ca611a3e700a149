package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/castwatch/castwatch/internal/ingest"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
	"github.com/castwatch/castwatch/internal/ueba"
)

// settleDelay is how far behind the collectors' last successful run behaviour analytics stay: events of a source
// arrive up to this late (SIEM batch files lag the mail by up to about half an hour), and the engine must see each
// user's events in time order.
const settleDelay = time.Hour

// analyticsBatch is the span of stored events behaviour analytics reads and processes at once.
const analyticsBatch = time.Hour

// analyticsLookback is how far back the first run (or a run after a long stop) starts.
const analyticsLookback = 30 * 24 * time.Hour

// notableRuleID is the rule id of incidents opened for notable users.
const notableRuleID = "ueba-notable-user"

// behaviourStreams are the streams whose events the behaviour engine reads (Exabeam's seven event types come from
// the audit log, mail receipts and deliveries, releases and archive searches).
var behaviourStreams = []string{"audit", "siem_cg", "siem_ci", "siem_legacy", "message_release", "archive_search"}

// analytics holds the behaviour engine and how far it has processed.
type analytics struct {
	mu          sync.Mutex
	content     ueba.Content
	eng         *ueba.Engine
	processedTo time.Time
}

// AnalyticsStats sums one analytics run.
type AnalyticsStats struct {
	From, To time.Time
	Events   int
	Findings int
	Notable  int
	// Held is set when a collector has not yet had a successful run, so analytics wait for its data.
	Held string
}

// openAnalytics loads the models and rules and the engine's saved state.
func (a *App) openAnalytics(ctx context.Context) error {
	c, err := ueba.LoadBuiltin()
	if err != nil {
		return fmt.Errorf("behaviour content: %w", err)
	}
	a.ueba = &analytics{content: c}
	a.ueba.eng = a.newBehaviourEngine()
	state, to, err := a.store.LoadUEBAState(ctx)
	if err != nil {
		return err
	}
	if state != nil {
		if err := a.ueba.eng.Restore(state); err != nil {
			a.log.Warn("behaviour state unreadable; rebuilding from history", "err", err)
			a.ueba.eng = a.newBehaviourEngine()
			to = time.Time{}
		}
	}
	a.ueba.processedTo = to
	return nil
}

func (a *App) newBehaviourEngine() *ueba.Engine {
	u := a.cfg.Analytics
	return ueba.New(a.ueba.content.Models, a.ueba.content.Rules, ueba.Options{
		Context: a.enrich, Idle: time.Duration(u.SessionIdle), MaxSession: time.Duration(u.SessionMax),
		NotableAt: u.NotableAt, Scores: u.Scores,
	})
}

// settled is the event time up to which every behaviour stream has been collected: an hour before the oldest
// last success among them. A stream that has never succeeded (and is not unavailable) holds analytics back.
func (a *App) settled(now time.Time) (time.Time, string) {
	until := now.Add(-settleDelay)
	for _, c := range a.collectors {
		if !slices.Contains(behaviourStreams, c.Stream()) {
			continue
		}
		st := c.Status()
		if st.State == StateUnavailable {
			continue
		}
		if st.LastSuccess.IsZero() {
			return time.Time{}, c.Tenant() + "/" + c.Stream() + " has not completed a run yet"
		}
		until = minTime(until, st.LastSuccess.Add(-settleDelay))
	}
	return until, ""
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// analyticsInterval is how often serve runs behaviour analytics over newly settled events; a collection run
// that stored new rows starts one sooner (see kickAnalytics).
const analyticsInterval = 2 * time.Minute

// drainWait bounds how long serve's analytics waits for the store consumer to write what was published before it
// looks at the stored events (what is published meanwhile is not waited for); a run that times out is held until
// the next one. A catch-up of several days keeps the consumer busy for minutes, and waiting beats running only
// at the next interval.
const drainWait = 10 * time.Minute

// kickAnalytics asks serve's analytics loop to run soon (after a collection run stored rows).
func (a *App) kickAnalytics() {
	select {
	case a.analyticsKick <- struct{}{}:
	default:
	}
}

// analyticsLoop runs behaviour analytics every analyticsInterval, or when kicked, until ctx ends, reloading the
// peer groups first.
func (a *App) analyticsLoop(ctx context.Context) {
	t := time.NewTicker(analyticsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.analyticsKick:
		}
		if err := a.loadPeerGroups(ctx); err != nil {
			a.log.Warn("peer groups not reloaded", "err", err)
		}
		st, err := a.runAnalytics(ctx, a.waitStored)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("behaviour analytics failed; will retry", "err", err)
		case st.Held != "":
			a.log.Debug("behaviour analytics waiting", "reason", st.Held)
		case st.Events > 0:
			a.log.Info("behaviour analytics", "events", st.Events, "findings", st.Findings, "notable", st.Notable)
		}
	}
}

// waitStored waits until the store consumer has written every batch published so far, so that analytics never
// reads a settled day whose rows are still on the bus.
func (a *App) waitStored(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, drainWait)
	defer cancel()
	return a.bus.WaitDrained(wctx, ingest.DefaultDurable)
}

// RunAnalytics processes the stored events between what was processed before and the settled time, one hour
// at a time, saves the sessions and the engine state, and opens incidents for notable users. It reads what is
// stored now: callers run it after the store consumer has drained (sync does).
func (a *App) RunAnalytics(ctx context.Context) (AnalyticsStats, error) {
	return a.runAnalytics(ctx, nil)
}

// runAnalytics is RunAnalytics with stored, when not nil, called between fixing the settled time and reading the
// store: events collected before the settled time are then all in the store.
func (a *App) runAnalytics(ctx context.Context, stored func(context.Context) error) (AnalyticsStats, error) {
	until, held := a.settled(a.now())
	if held != "" {
		return AnalyticsStats{Held: held}, nil
	}
	if stored != nil {
		if err := stored(ctx); err != nil {
			return AnalyticsStats{Held: "the store consumer is still writing: " + err.Error()}, nil
		}
	}
	return a.analyse(ctx, time.Time{}, until, nil)
}

// RebuildAnalytics forgets the learnt models and sessions and replays history from since through a fresh engine.
func (a *App) RebuildAnalytics(ctx context.Context, since time.Time, progress func(day time.Time, st AnalyticsStats)) (AnalyticsStats, error) {
	a.ueba.mu.Lock()
	if err := a.store.ClearUEBA(ctx); err != nil {
		a.ueba.mu.Unlock()
		return AnalyticsStats{}, err
	}
	a.ueba.eng = a.newBehaviourEngine()
	a.ueba.processedTo = time.Time{}
	a.ueba.mu.Unlock()
	until, _ := a.settled(a.now())
	if held := until.IsZero(); held {
		until = a.now().Add(-settleDelay)
	}
	return a.analyse(ctx, since, until, progress)
}

func (a *App) analyse(ctx context.Context, since, until time.Time, progress func(time.Time, AnalyticsStats)) (AnalyticsStats, error) {
	u := a.ueba
	u.mu.Lock()
	defer u.mu.Unlock()
	from := u.processedTo
	if from.IsZero() {
		from = cmpTime(since, until.Add(-analyticsLookback))
	}
	st := AnalyticsStats{From: from, To: until}
	if !until.After(from) {
		return st, nil
	}
	// An hour at a time: a large tenant's day of events would be hundreds of megabytes in memory, and the engine
	// carries what matters across batches (sessions, and the bytes of a message whose records straddle them).
	for start := from; start.Before(until); {
		end := minTime(start.Truncate(analyticsBatch).Add(analyticsBatch), until)
		events, err := a.storedEvents(ctx, start, end)
		if err != nil {
			return st, err
		}
		out := u.eng.Process(behaviourEvents(events))
		st.Events += len(events)
		if err := a.saveAnalytics(ctx, out, &st); err != nil {
			return st, err
		}
		start = end
		if progress != nil {
			progress(start, st)
		}
	}
	if err := a.saveAnalytics(ctx, u.eng.Advance(until), &st); err != nil {
		return st, err
	}
	snap, err := u.eng.Snapshot()
	if err != nil {
		return st, err
	}
	if err := a.store.SaveUEBAState(ctx, snap, until); err != nil {
		return st, err
	}
	u.processedTo = until
	if st.Findings > 0 || st.Notable > 0 {
		a.log.Info("behaviour analytics", "events", st.Events, "findings", st.Findings, "notable", st.Notable)
	}
	return st, nil
}

func cmpTime(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	return a
}

// behaviourEvents keeps the events of Exabeam's seven event types.
func behaviourEvents(events []schema.Event) []schema.Event {
	out := events[:0]
	for _, e := range events {
		switch e.EventType {
		case schema.EventAppLogin, schema.EventFailedAppLogin, schema.EventAppActivity, schema.EventDLPEmailAlertIn,
			schema.EventDLPEmailAlertInFail, schema.EventDLPEmailAlertOut, schema.EventDLPEmailAlertOutFail:
			out = append(out, e)
		}
	}
	return out
}

// saveAnalytics stores an engine output: the sessions, and for notable sessions their findings as alerts grouped
// into one incident per session.
func (a *App) saveAnalytics(ctx context.Context, out ueba.Output, st *AnalyticsStats) error {
	st.Findings += len(out.Findings)
	st.Notable += len(out.Notable)
	// Alerts and incidents first: a reader who sees a notable session then finds its incident. All three writes
	// are idempotent, so a run retried after a failure in between repeats them harmlessly.
	for _, s := range out.Sessions {
		if !s.Notable {
			continue
		}
		alerts := findingAlerts(s, a.now())
		if _, err := a.store.UpsertAlerts(ctx, alerts); err != nil {
			return fmt.Errorf("store notable-user alerts: %w", err)
		}
		if _, err := a.store.SaveIncidents(ctx, []store.Incident{notableIncident(s, alerts, a.now())}); err != nil {
			return fmt.Errorf("open notable-user incident: %w", err)
		}
	}
	return a.store.SaveRiskSessions(ctx, out.Sessions)
}

// findingAlerts turns a notable session's findings into alerts (deterministic ids: session, rule, value, event).
func findingAlerts(s ueba.Session, now time.Time) []schema.Alert {
	out := make([]schema.Alert, 0, len(s.Findings))
	for _, f := range s.Findings {
		sum := sha256.Sum256([]byte(strings.Join([]string{"ueba", s.ID, f.RuleID, f.Value, f.EventID}, "\x00")))
		entities := []schema.Entity{{Type: "mailbox", Value: s.User}}
		if f.SrcIP != "" {
			entities = append(entities, schema.Entity{Type: "ip", Value: f.SrcIP})
		}
		out = append(out, schema.Alert{
			ID: hex.EncodeToString(sum[:16]), Tenant: s.Tenant, RuleID: f.RuleID, RuleVersion: "ueba",
			Title: f.RuleName, Severity: pointsSeverity(f.Points), Tactics: f.Tactics, Techniques: f.Techniques,
			Entities: entities, EventIDs: []string{f.EventID}, GroupKey: s.ID, FirstEvent: f.Time, LastEvent: f.Time,
			Created: now, Status: "new",
			Explanation: fmt.Sprintf("%s (+%d risk points in the session of %s starting %s UTC)", f.Reason, f.Points,
				s.User, s.Start.UTC().Format("2006-01-02 15:04")),
		})
	}
	return out
}

// pointsSeverity maps a finding's risk points to an alert severity.
func pointsSeverity(p int) string {
	switch {
	case p >= 40:
		return "high"
	case p >= 20:
		return "medium"
	case p >= 10:
		return "low"
	}
	return "informational"
}

// notableIncident is the incident of a notable session: its timeline is the findings' alerts.
func notableIncident(s ueba.Session, alerts []schema.Alert, now time.Time) store.Incident {
	inc := store.Incident{
		ID: "ueba-" + s.ID, Tenant: s.Tenant, RuleID: notableRuleID, State: store.IncidentNew,
		Title:    fmt.Sprintf("Notable user %s: risk %d in one session", s.User, s.Score),
		Severity: "high", Entities: []schema.Entity{{Type: "mailbox", Value: s.User}},
		FirstAlert: s.Start, LastAlert: s.End, Created: now, Updated: now,
	}
	if s.Score >= 2*ueba.DefaultNotableAt {
		inc.Severity = "critical"
	}
	for _, al := range alerts {
		inc.AlertIDs = append(inc.AlertIDs, al.ID)
		inc.Tactics = mergeSorted(inc.Tactics, al.Tactics)
		inc.Techniques = mergeSorted(inc.Techniques, al.Techniques)
		for _, e := range al.Entities {
			if !slices.Contains(inc.Entities, e) {
				inc.Entities = append(inc.Entities, e)
			}
		}
	}
	return inc
}

func mergeSorted(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
