package web

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestResolveRange(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string
	}{
		{"empty is default", "", 14 * day, ""},
		{"five minutes", "5m", 5 * time.Minute, ""},
		{"four hours", "4h", 4 * time.Hour, ""},
		{"one day", "1d", day, ""},
		{"ninety days", "90d", 90 * day, ""},
		{"not a workbook range", "10d", 0, `unknown range "10d"`},
		{"go duration syntax", "336h", 0, `unknown range "336h"`},
		{"upper case", "14D", 0, `unknown range "14D"`},
		{"garbage", "<x>", 0, "unknown range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.FixedZone("X", 7200))
			w, err := resolveRange(tc.in, now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.To.Location() != time.UTC || !w.To.Equal(now) || w.To.Sub(w.From) != tc.want {
				t.Errorf("window = %v … %v, want %v ending at %v UTC", w.From, w.To, tc.want, now)
			}
		})
	}
}

func TestRangesMatchWorkbook(t *testing.T) {
	var names []string
	for _, r := range ranges {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "5m,15m,30m,1h,4h,12h,1d,2d,3d,7d,14d,28d,30d,60d,90d" {
		t.Errorf("ranges = %s", got)
	}
	for i := 1; i < len(ranges); i++ {
		if ranges[i].Duration <= ranges[i-1].Duration {
			t.Errorf("%s is not longer than %s", ranges[i].Name, ranges[i-1].Name)
		}
	}
}

func TestHourBuckets(t *testing.T) {
	tests := []struct {
		name       string
		from, to   time.Time
		wantN      int
		wantFirst  string
		wantLast   string
		wantMissed bool
	}{
		{"aligned", time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC), 2, "08:00", "09:00", false},
		{"unaligned", time.Date(2026, 3, 10, 8, 59, 0, 0, time.UTC), time.Date(2026, 3, 10, 9, 1, 0, 0, time.UTC), 2, "08:00", "09:00", false},
		{"inside one hour", time.Date(2026, 3, 10, 8, 10, 0, 0, time.UTC), time.Date(2026, 3, 10, 8, 15, 0, 0, time.UTC), 1, "08:00", "08:00", false},
		{"empty", time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC), 0, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := window{From: tc.from, To: tc.to}.hourBuckets()
			if len(b) != tc.wantN {
				t.Fatalf("buckets = %v, want %d", b, tc.wantN)
			}
			if tc.wantMissed {
				return
			}
			if f, l := b[0].Format("15:04"), b[len(b)-1].Format("15:04"); f != tc.wantFirst || l != tc.wantLast {
				t.Errorf("buckets %s … %s, want %s … %s", f, l, tc.wantFirst, tc.wantLast)
			}
		})
	}
}

func TestAsInt(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    int64
		wantErr bool
	}{
		{"nil", nil, 0, false},
		{"int64", int64(42), 42, false},
		{"int32", int32(7), 7, false},
		{"uint64", uint64(9), 9, false},
		{"float", float64(3), 3, false},
		{"big", big.NewInt(12), 12, false},
		{"text", "15", 15, false},
		{"bytes", []byte("16"), 16, false},
		{"uint64 overflow", uint64(1) << 63, 0, true},
		{"big overflow", new(big.Int).Lsh(big.NewInt(1), 70), 0, true},
		{"not a number", "many", 0, true},
		{"bool", true, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := asInt(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("asInt(%v) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestAsTime(t *testing.T) {
	want := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      any
		want    time.Time
		wantErr bool
	}{
		{"nil", nil, time.Time{}, false},
		{"utc", want, want, false},
		{"other zone", want.In(time.FixedZone("X", -5*3600)), want, false},
		{"rfc3339", "2026-03-10T08:00:00Z", want, false},
		{"sql text", "2026-03-10 08:00:00", want, false},
		{"sql text with zone", "2026-03-10 09:00:00+01:00", want, false},
		{"garbage", "yesterday", time.Time{}, true},
		{"number", int64(5), time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := asTime(tc.in)
			if (err != nil) != tc.wantErr || !got.Equal(tc.want) || (!got.IsZero() && got.Location() != time.UTC) {
				t.Errorf("asTime(%v) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestFormatCount(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{int64(0), "0"},
		{int64(999), "999"},
		{int64(1000), "1\u202f000"},
		{int64(1234567), "1\u202f234\u202f567"},
		{-4321, "-4\u202f321"},
		{"x", "x"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := formatCount(tc.in); got != tc.want {
				t.Errorf("formatCount(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
