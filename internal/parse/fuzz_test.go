package parse

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzParseAuditInfo checks that ParseAuditInfo never panics, keeps the raw text, returns only valid IPs in
// canonical form, returns UTC times, takes Object() from the input text, and is deterministic.
func FuzzParseAuditInfo(f *testing.F) {
	if in, err := os.Open(filepath.Join("testdata", "audit_eventinfo.jsonl")); err == nil {
		sc := bufio.NewScanner(in)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var s string
			if json.Unmarshal(sc.Bytes(), &s) == nil {
				f.Add(s)
			}
		}
		in.Close()
	}
	f.Add("a - b: c, IP: 1.2.3.4, Date: 2020-01-01, Time: 00:00:00 +14:00")
	f.Fuzz(func(t *testing.T, s string) {
		a := ParseAuditInfo(s)
		if a.Raw != s {
			t.Fatalf("Raw = %q, want input", a.Raw)
		}
		for _, ip := range []string{a.IP, a.RemoteIP} {
			if ip == "" {
				continue
			}
			addr, err := netip.ParseAddr(ip)
			if err != nil {
				t.Fatalf("parsed IP %q is not valid: %v", ip, err)
			}
			if addr.String() != ip || addr.Zone() != "" {
				t.Fatalf("IP %q is not canonical", ip)
			}
		}
		if !a.Time.IsZero() && a.Time.Location() != time.UTC {
			t.Fatalf("Time %v is not UTC", a.Time)
		}
		if a.Layout == "" {
			t.Fatal("no layout")
		}
		if strings.TrimSpace(s) == "" && a.Layout != LayoutEmpty {
			t.Fatalf("blank input gave layout %q", a.Layout)
		}
		if obj := a.Object(); !strings.Contains(strings.ReplaceAll(s, "\r\n", "\n"), obj) {
			t.Fatalf("Object() %q is not text of the input", obj)
		}
		if b := ParseAuditInfo(s); !reflect.DeepEqual(a, b) {
			t.Fatal("not deterministic")
		}
	})
}
