package ueba

import (
	"bytes"
	"encoding/gob"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// replayRun is what one pass over generated history produced.
type replayRun struct {
	findings []Finding
	sessions map[string]Session
	state    state
}

// replay feeds days of traffic (plus an attack) one batch per day. Before the day restartAt (when >= 0) it saves
// the engine, builds a fresh one and restores it, as a restarted castwatch does; shuffle mixes each batch's order
// (the engine must not depend on it).
func replay(t *testing.T, tr *traffic, days, restartAt int, shuffle *rand.Rand, extra func(d int) []schema.Event) replayRun {
	t.Helper()
	c, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	eng := New(c.Models, c.Rules, Options{Context: tr.ctx})
	run := replayRun{sessions: map[string]Session{}}
	collect := func(out Output) {
		run.findings = append(run.findings, out.Findings...)
		for _, s := range out.Sessions {
			run.sessions[s.ID] = s
		}
	}
	for d := range days {
		if d == restartAt {
			snap, err := eng.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			eng = New(c.Models, c.Rules, Options{Context: tr.ctx})
			if err := eng.Restore(snap); err != nil {
				t.Fatal(err)
			}
		}
		evs := append(tr.day(d), extra(d)...)
		if shuffle != nil {
			shuffle.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		}
		collect(eng.Process(evs))
	}
	collect(eng.Advance(tr.start.AddDate(0, 0, days+1)))
	snap, err := eng.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := gob.NewDecoder(bytes.NewReader(snap)).Decode(&run.state); err != nil {
		t.Fatal(err)
	}
	return run
}

// TestReplayIsDeterministic is a property test over random tenants, attack days and restart points: replaying the
// same history from scratch rebuilds identical models, sessions and findings (the alerts castwatch raises), whether
// or not the engine was saved and restored along the way and whatever order each batch arrived in.
func TestReplayIsDeterministic(t *testing.T) {
	const days = 9
	for seed := uint64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 77))
		tr := newTraffic(8+r.IntN(8), seed)
		victim := tr.users[r.IntN(len(tr.users))]
		attackDay := 4 + r.IntN(days-4)
		at := tr.start.AddDate(0, 0, attackDay).Add(time.Duration(6+r.IntN(14)) * time.Hour)
		attack := func(d int) []schema.Event {
			if d != attackDay {
				return nil
			}
			login := tr.appEvent(victim, "x-login", at, schema.EventAppLogin, victim.apps[0], "Log In")
			login.SrcIP = "185.220.101.7"
			mail := tr.mail(victim, "x-mail", at.Add(5*time.Minute), "drop.box@proton.me")
			mail[len(mail)-1].Bytes = 7_000_000
			return append([]schema.Event{login}, mail...)
		}
		first := replay(t, tr, days, -1, nil, attack)
		if len(first.findings) == 0 {
			t.Fatalf("seed %d: no findings at all; the property would hold trivially", seed)
		}
		again := replay(t, tr, days, 1+r.IntN(days-1), rand.New(rand.NewPCG(seed, 78)), attack)
		if !reflect.DeepEqual(first.findings, again.findings) {
			t.Errorf("seed %d: replay gave %d findings, the first run %d (or different ones)", seed,
				len(again.findings), len(first.findings))
		}
		if !reflect.DeepEqual(first.sessions, again.sessions) {
			t.Errorf("seed %d: replay gave different sessions", seed)
		}
		if !reflect.DeepEqual(first.state, again.state) {
			t.Errorf("seed %d: replay rebuilt different models", seed)
		}
	}
}
