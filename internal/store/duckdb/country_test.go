package duckdb

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// The country rollups count each address under the country the store's lookup gives it when the row is counted,
// and are recounted when the store is opened with another GeoIP database, not when it is opened with the same
// one or with none.
func TestCountryRollupsFollowTheGeoIPDatabase(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	geoA := map[string]string{"192.0.2.1": "NL", "198.51.100.7": "US", "203.0.113.9": "DE"}
	geoB := map[string]string{"192.0.2.1": "FR", "198.51.100.7": "US", "203.0.113.9": "DE"}
	lookup := func(m map[string]string) func(string) string { return func(ip string) string { return m[ip] } }
	open := func(opts Options) *DB {
		t.Helper()
		d, err := Open(ctx, path, opts)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// want counts the receipts per sender IP straight from the table, and perCountry reads the hourly rollup
	// (which holds every counted row).
	const receipts = `"Logtype" = 'email_receipt'`
	want := func(d *DB, ip string) int64 {
		t.Helper()
		return query(t, d, `SELECT count(*) FROM "Seg_Cg_CL" WHERE `+receipts+` AND "senderIp" = ?`, ip).Rows[0][0].(int64)
	}
	perCountry := func(d *DB) map[string]int64 {
		t.Helper()
		out := map[string]int64{}
		// The hourly table holds every counted row; read it alone.
		res := query(t, d, `SELECT "Sender Country", CAST(sum(n) AS BIGINT) FROM "rollup_seg_countries" WHERE "Type" = 'email_receipt' GROUP BY 1`)
		for _, r := range res.Rows {
			out[r[0].(string)] = r[1].(int64)
		}
		return out
	}

	d := open(Options{Country: lookup(geoA), CountrySource: "geo A"})
	rng := rand.New(rand.NewPCG(3, 9))
	d.flushEvery = 300
	writeInBatches(t, d, &schema.SegCg, rng, gatewayRows(rng, 2000, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)))
	if err := d.FlushRollups(ctx); err != nil {
		t.Fatal(err)
	}
	nl, us, unknown := want(d, "192.0.2.1"), want(d, "198.51.100.7"), want(d, "")
	if nl == 0 || us == 0 || unknown == 0 {
		t.Fatalf("generated receipts per address: %d %d %d, want some of each", nl, us, unknown)
	}
	if got := perCountry(d); got["NL"] != nl || got["US"] != us || got[""] != unknown || len(got) != 3 {
		t.Errorf("with GeoIP A: %v, want NL %d, US %d, unknown %d", got, nl, us, unknown)
	}
	_ = d.Close()

	// Same source name, different answers: the store trusts the name and keeps its counts.
	d = open(Options{Country: lookup(geoB), CountrySource: "geo A"})
	if got := perCountry(d); got["NL"] != nl || got["FR"] != 0 {
		t.Errorf("reopened with the same GeoIP database: %v, want the counts kept", got)
	}
	_ = d.Close()

	d = open(Options{Country: lookup(geoB), CountrySource: "geo B"})
	if got := perCountry(d); got["FR"] != nl || got["NL"] != 0 || got["US"] != us {
		t.Errorf("reopened with GeoIP B: %v, want 192.0.2.1's %d receipts under FR", got, nl)
	}
	_ = d.Close()

	// A tool that opens the store without GeoIP does not wipe the countries.
	d = open(Options{})
	if got := perCountry(d); got["FR"] != nl {
		t.Errorf("reopened without GeoIP: %v, want the counts kept", got)
	}
	_ = d.Close()
}
