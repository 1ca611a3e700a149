package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/testutil"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// corpusRecords reads the recorded audit records fixture: real API records, some sharing an id, and one line
// that is a whole response envelope instead of a record.
func corpusRecords(t *testing.T) []json.RawMessage {
	t.Helper()
	f, err := os.Open(filepath.Join(testutil.CorpusDir(t), "audit_events", "test-audit-events.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, json.RawMessage(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func batchMsg(t *testing.T, b collect.Batch) bus.Msg {
	t.Helper()
	data, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return bus.Msg{Subject: b.Subject(), MsgID: b.MsgID(), Data: data, StreamSeq: 7, Delivered: 1}
}

func auditBatch(records ...json.RawMessage) collect.Batch {
	return collect.Batch{Tenant: "acme", Stream: "audit", Table: "Audit_CL", WindowStart: t0.Add(-time.Hour),
		WindowEnd: t0, PageToken: "tok-1", Page: 2, Records: records, Fetched: t0}
}

func counter(t *testing.T, v *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	var d dto.Metric
	if err := v.WithLabelValues(labels...).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

func TestHandleCorpusPage(t *testing.T) {
	records := corpusRecords(t)
	distinct := map[string]bool{}
	decodable := 0
	for _, r := range records {
		var rec schema.AuditRecord
		if json.Unmarshal(r, &rec) == nil && rec.ID != "" {
			distinct[rec.ID] = true
			decodable++
		}
	}
	if len(records) != 34 || decodable != 33 || len(distinct) != 27 {
		t.Fatalf("fixture changed: %d records, %d with ids, %d distinct", len(records), decodable, len(distinct))
	}
	st := newMemStore()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var hooked []schema.Row
	c, err := NewConsumer(Config{Store: st, Metrics: m, Now: func() time.Time { return t0.Add(time.Minute) },
		AfterWrite: func(ctx context.Context, tab *schema.Table, rows []schema.Row) error {
			if tab.Name != "Audit_CL" {
				t.Errorf("hook got table %s", tab.Name)
			}
			hooked = append(hooked, rows...)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Handle(context.Background(), batchMsg(t, auditBatch(records...))); err != nil {
		t.Fatal(err)
	}
	if got := st.count("Audit_CL"); got != len(distinct) {
		t.Errorf("stored %d rows, want %d distinct ids", got, len(distinct))
	}
	q := st.quarantined()
	if len(q) != 1 {
		t.Fatalf("quarantined %d, want the envelope line", len(q))
	}
	want := `window 2026-03-10T11:00:00Z/2026-03-10T12:00:00Z page 2 token "tok-1" record 33`
	if q[0].Position != want || q[0].Reason != "Audit_CL: missing id" || q[0].Source != "audit" ||
		q[0].Tenant != "acme" || !strings.Contains(q[0].Raw, `"pagination"`) {
		t.Errorf("quarantined %+v", q[0])
	}
	if len(hooked) != 33 {
		t.Errorf("hook saw %d rows, want every decoded row (33)", len(hooked))
	}
	// TimeGenerated is the fetch time carried by the batch, so a redelivery stores the same values.
	if tg := hooked[0][1].(time.Time); !tg.Equal(t0) {
		t.Errorf("TimeGenerated = %v, want the batch's fetch time", tg)
	}
	wantStats := Stats{Batches: 1, Rows: 33, New: 27, Quarantined: 1}
	if got := c.Stats(); got != wantStats {
		t.Errorf("stats %+v, want %+v", got, wantStats)
	}
	if got := counter(t, m.New, "acme", "Audit_CL"); got != 27 {
		t.Errorf("new rows metric %v, want 27", got)
	}

	// The same batch again (a redelivery) adds nothing new.
	if err := c.Handle(context.Background(), batchMsg(t, auditBatch(records...))); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats(); got.New != 27 || got.Batches != 2 {
		t.Errorf("after redelivery %+v, want no new rows", got)
	}
}

func TestHandleFailuresAreRetried(t *testing.T) {
	good := json.RawMessage(`{"id":"a1","auditType":"Search Action","user":"u@example.com","eventTime":"2026-03-10T11:30:00+0000","eventInfo":"x","category":"case_review_logs"}`)
	bad := json.RawMessage(`{"id":"a2","eventTime":"yesterday"}`)
	hookErr := errors.New("detection unavailable")
	tests := []struct {
		name            string
		failWrites      int
		failQuarantines int
		hook            error
		wantErr         error
		wantStored      int
		wantQuarantined int
	}{
		{name: "store write fails", failWrites: 1, wantErr: errStoreDown},
		{name: "quarantine fails after rows are stored", failQuarantines: 1, wantErr: errStoreDown, wantStored: 1},
		{name: "hook fails after everything is stored", hook: hookErr, wantErr: hookErr, wantStored: 1, wantQuarantined: 1},
		{name: "all good", wantStored: 1, wantQuarantined: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			st.failWrites, st.failQuarantines = tc.failWrites, tc.failQuarantines
			c, err := NewConsumer(Config{Store: st, AfterWrite: func(context.Context, *schema.Table, []schema.Row) error {
				return tc.hook
			}})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Handle(context.Background(), batchMsg(t, auditBatch(good, bad)))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if st.count("Audit_CL") != tc.wantStored || len(st.quarantined()) != tc.wantQuarantined {
				t.Errorf("stored %d, quarantined %d; want %d, %d", st.count("Audit_CL"), len(st.quarantined()),
					tc.wantStored, tc.wantQuarantined)
			}
			s := c.Stats()
			if tc.wantErr != nil && (s.Failures != 1 || s.Batches != 0) {
				t.Errorf("stats %+v, want one failure and no batch", s)
			}
			if n, last := c.failing(); tc.wantErr != nil && (n != 1 || !errors.Is(last, tc.wantErr)) {
				t.Errorf("failing() = %d, %v", n, last)
			}
		})
	}
}

func TestHandleUndecodableMessages(t *testing.T) {
	tests := []struct {
		name       string
		data       string
		wantReason string
		wantTenant string
	}{
		{"not JSON", "garbage", "undecodable batch: decode batch: invalid character", ""},
		{"missing fields", `{"tenant":"acme"}`, "undecodable batch: decode batch: missing tenant, stream or table", ""},
		{"unknown table", `{"tenant":"acme","stream":"x","table":"Nope_CL","records":[]}`, `undecodable batch: unknown table "Nope_CL"`, "acme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			c, _ := NewConsumer(Config{Store: st})
			m := bus.Msg{Subject: "castwatch.batch.acme.x", MsgID: "id", Data: []byte(tc.data), StreamSeq: 3}
			if err := c.Handle(context.Background(), m); err != nil {
				t.Fatalf("an undecodable message must be set aside, not retried: %v", err)
			}
			q := st.quarantined()
			if len(q) != 1 || !strings.HasPrefix(q[0].Reason, tc.wantReason) || q[0].Raw != tc.data ||
				q[0].Tenant != tc.wantTenant || q[0].Position != "stream sequence 3, message id id" {
				t.Fatalf("quarantined %+v", q)
			}
		})
	}
	t.Run("quarantine failure is retried", func(t *testing.T) {
		st := newMemStore()
		st.failQuarantines = 1
		c, _ := NewConsumer(Config{Store: st})
		if err := c.Handle(context.Background(), bus.Msg{Data: []byte("x")}); !errors.Is(err, errStoreDown) {
			t.Fatalf("error %v, want the store error", err)
		}
	})
	t.Run("no store", func(t *testing.T) {
		if _, err := NewConsumer(Config{}); err == nil {
			t.Fatal("consumer without store accepted")
		}
	})
}

func TestMetricsTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2.Rows.WithLabelValues("a", "b").Inc()
	if counter(t, m1.Rows, "a", "b") != 1 {
		t.Fatal("second NewMetrics did not share the registered collectors")
	}
}

func TestHandleMalformedInputs(t *testing.T) {
	st := newMemStore()
	c, err := NewConsumer(Config{Store: st, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	b := auditBatch(corpusRecords(t)[0])
	b.Malformed = []collect.Malformed{{Position: "file f1 line 3", Reason: "invalid JSON: unexpected end", Raw: `{"id":`}}
	if err := c.Handle(context.Background(), batchMsg(t, b)); err != nil {
		t.Fatal(err)
	}
	if got := st.count("Audit_CL"); got != 1 {
		t.Errorf("stored %d rows, want the one good record", got)
	}
	q := st.quarantined()
	if len(q) != 1 || q[0].Position != "file f1 line 3" || q[0].Reason != "invalid JSON: unexpected end" ||
		q[0].Raw != `{"id":` || q[0].Tenant != "acme" || q[0].Source != "audit" {
		t.Fatalf("quarantined %+v, want the malformed line with its position and reason", q)
	}
	if got := c.Stats(); got.Quarantined != 1 || got.New != 1 {
		t.Errorf("stats %+v", got)
	}
	// The malformed inputs are part of the message id: a batch that differs only in them is another batch.
	other := b
	other.Malformed = nil
	if other.MsgID() == b.MsgID() {
		t.Error("malformed inputs must change the message id")
	}
}

// Messages of one tenant and table delivered together are stored in one write; when that write fails, each is
// tried alone, so only the message the store refuses is left for redelivery.
func TestHandleBatchGroupsAndIsolatesFailures(t *testing.T) {
	records := corpusRecords(t)[:30]
	idOf := func(raw json.RawMessage) string {
		var r struct{ ID string }
		if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" {
			t.Fatalf("record without id: %s", raw)
		}
		return r.ID
	}
	globex := auditBatch(records[:5]...)
	globex.Tenant = "globex"
	msgs := []bus.Msg{
		batchMsg(t, auditBatch(records[:10]...)),
		batchMsg(t, auditBatch(records[10:20]...)),
		batchMsg(t, globex),
		batchMsg(t, auditBatch(records[20:]...)),
		{Data: []byte("not a batch")},
	}
	distinct := func(rs []json.RawMessage) int {
		ids := map[string]bool{}
		for _, r := range rs {
			ids[idOf(r)] = true
		}
		return len(ids)
	}

	t.Run("together", func(t *testing.T) {
		st := newMemStore()
		c, err := NewConsumer(Config{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		for i, err := range c.HandleBatch(context.Background(), msgs) {
			if err != nil {
				t.Errorf("message %d: %v", i, err)
			}
		}
		if st.calls != 2 {
			t.Errorf("%d store writes, want 2 (one per tenant)", st.calls)
		}
		if got, want := st.count("Audit_CL"), distinct(records)+distinct(records[:5]); got != want {
			t.Errorf("stored %d rows, want %d", got, want)
		}
		if q := st.quarantined(); len(q) != 1 || !strings.HasPrefix(q[0].Reason, "undecodable batch") {
			t.Errorf("quarantined %+v, want the undecodable message", q)
		}
		if s := c.Stats(); s.Batches != 5 || s.Failures != 0 {
			t.Errorf("stats %+v, want 5 messages handled", s)
		}
	})

	t.Run("one refused", func(t *testing.T) {
		st := newMemStore()
		st.refuse = idOf(records[15])
		c, err := NewConsumer(Config{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		errs := c.HandleBatch(context.Background(), msgs)
		for i, err := range errs {
			if (err != nil) != (i == 1) {
				t.Errorf("message %d: err %v; want only message 1 refused", i, err)
			}
		}
		// acme's three messages: together (refused), then one by one; globex: one write.
		if st.calls != 5 {
			t.Errorf("%d store writes, want 5", st.calls)
		}
		want := distinct(append(append([]json.RawMessage{}, records[:10]...), records[20:]...)) + distinct(records[:5])
		if got := st.count("Audit_CL"); got != want {
			t.Errorf("stored %d rows, want %d (all but the refused message's)", got, want)
		}
		if s := c.Stats(); s.Batches != 4 || s.Failures != 1 {
			t.Errorf("stats %+v, want 4 handled and 1 failed", s)
		}
	})
}
