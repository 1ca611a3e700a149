package duckdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

func TestScanRows(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	// Written out of order, with two rows sharing an event time so the key breaks the tie.
	rows := []schema.Row{
		kitchenRow("t", "e", t0.Add(4*time.Hour)),
		kitchenRow("t", "b", t0.Add(1*time.Hour)),
		kitchenRow("t", "a", t0),
		kitchenRow("t", "d", t0.Add(2*time.Hour)),
		kitchenRow("t", "c", t0.Add(1*time.Hour)),
		kitchenRow("s", "c", t0.Add(1*time.Hour)),
	}
	if _, err := d.WriteRows(ctx, &kitchen, rows); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"everything", time.Time{}, time.Time{}, []string{"t|a", "s|c", "t|b", "t|c", "t|d", "t|e"}},
		{"from is inclusive", t0.Add(time.Hour), time.Time{}, []string{"s|c", "t|b", "t|c", "t|d", "t|e"}},
		{"to is exclusive", t0, t0.Add(2 * time.Hour), []string{"t|a", "s|c", "t|b", "t|c"}},
		{"one instant", t0.Add(time.Hour), t0.Add(time.Hour + time.Nanosecond*1000), []string{"s|c", "t|b", "t|c"}},
		{"empty range", t0.Add(5 * time.Hour), t0.Add(6 * time.Hour), nil},
		{"inverted range", t0.Add(3 * time.Hour), t0, nil},
		{"other zone", t0.In(time.FixedZone("E", 2*3600)), t0.Add(time.Hour).In(time.FixedZone("W", -3600)), []string{"t|a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := d.ScanRows(ctx, &kitchen, tc.from, tc.to, func(r schema.Row) error {
				if len(r) != len(kitchen.Columns) {
					return fmt.Errorf("row has %d values", len(r))
				}
				got = append(got, RowKey(&kitchen, r))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("callback error stops the scan", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := d.ScanRows(ctx, &kitchen, time.Time{}, time.Time{}, func(schema.Row) error {
			calls++
			if calls == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 2 {
			t.Errorf("err=%v calls=%d; want the callback's error after 2 calls", err, calls)
		}
	})
	t.Run("table without event time", func(t *testing.T) {
		noTime := kitchen
		noTime.EventTime = ""
		if err := d.ScanRows(ctx, &noTime, time.Time{}, time.Time{}, func(schema.Row) error { return nil }); err == nil {
			t.Error("scan of a table without an event time succeeded")
		}
	})
	t.Run("missing table", func(t *testing.T) {
		missing := kitchen
		missing.Name = "Missing_CL"
		if err := d.ScanRows(ctx, &missing, time.Time{}, time.Time{}, func(schema.Row) error { return nil }); err == nil {
			t.Error("scan of a missing table succeeded")
		}
	})
}

func TestScanRowsWhileWriting(t *testing.T) {
	// The callback may write to the store; scanning must not hold the write lock.
	ctx := context.Background()
	d := openMem(t)
	if _, err := d.WriteRows(ctx, &schema.Audit, synthRows("t", 50, t0)); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := d.ScanRows(ctx, &schema.Audit, t0, t0.Add(time.Hour), func(r schema.Row) error {
		n++
		k := kitchenRow("t", r[2].(string), t0)
		_, err := d.WriteRows(ctx, &kitchen, []schema.Row{k})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := d.Count(ctx, "Kitchen_CL"); n != 50 || c != 50 {
		t.Errorf("scanned %d, wrote %d; want 50 and 50", n, c)
	}
}

func TestCount(t *testing.T) {
	ctx := context.Background()
	d := openMem(t)
	if _, err := d.WriteRows(ctx, &schema.Audit, synthRows("t", 7, t0)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		table   string
		want    int64
		wantErr bool
	}{
		{"Audit_CL", 7, false},
		{"alerts", 0, false},
		{"Nope_CL", 0, true},
		{`Audit_CL"; DROP TABLE "Audit_CL`, 0, true},
		{"", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.table, func(t *testing.T) {
			n, err := d.Count(ctx, tc.table)
			if (err != nil) != tc.wantErr || n != tc.want {
				t.Errorf("Count = %d, %v; want %d (error %v)", n, err, tc.want, tc.wantErr)
			}
		})
	}
	if n, _ := d.Count(ctx, "Audit_CL"); n != 7 {
		t.Errorf("Audit_CL lost rows: %d", n)
	}
}

func TestScanRowsEpochMillisEventTime(t *testing.T) {
	ctx := context.Background()
	db := openMem(t)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var rows []schema.Row
	for i := 0; i < 3; i++ {
		raw := fmt.Sprintf(`{"processingId":"p%d","aggregateId":"a","accountId":"C1","messageId":"<m%d@x>","timestamp":%d,"action":"Acc","type":"receipt","subtype":"Allow"}`,
			i, i, at.Add(time.Duration(i)*time.Hour).UnixMilli())
		r, err := schema.SegCg.Decode("t1", json.RawMessage(raw), at)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if _, err := db.WriteRows(ctx, &schema.SegCg, rows); err != nil {
		t.Fatal(err)
	}
	var got int
	err := db.ScanRows(ctx, &schema.SegCg, at.Add(30*time.Minute), at.Add(2*time.Hour), func(schema.Row) error { got++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got != 1 {
		t.Fatalf("want the one row stamped 11:00 in [10:30, 12:00), got %d", got)
	}
}
