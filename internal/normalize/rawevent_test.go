package normalize

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

func TestRawEventRoundTrip(t *testing.T) {
	at := time.Date(2026, 2, 17, 10, 15, 30, 0, time.UTC)
	ev := schema.Event{ID: "acme/raw/abc", Time: at, Table: "raw", EventType: schema.EventAppActivity,
		User: "jdoe@example.com", SrcIP: "203.0.113.10", Activity: "Change Email"}
	rec, _ := json.Marshal(schema.RawEventRecord{Format: "audit-kv", Source: "app.log", Event: ev})
	row, err := schema.RawEvent.Decode("acme", rec, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got, err := rawEventRows(row)
	if err != nil {
		t.Fatal(err)
	}
	want := ev
	want.Tenant = "acme"
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, err := rawEventRows(schema.Row{"acme"}); err == nil {
		t.Error("a short row must be refused")
	}
	for _, bad := range []string{`{"event":{"time":"2026-02-17T10:15:30Z"}}`, `{"event":{"id":"x"}}`, `nope`} {
		if _, err := schema.RawEvent.Decode("acme", json.RawMessage(bad), at); err == nil {
			t.Errorf("Decode(%s) accepted a bad record", bad)
		}
	}
}
