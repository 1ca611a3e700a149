package siemlegacy

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/mimecast/sim"
	"github.com/castwatch/castwatch/internal/schema"
)

// TestAgainstSimulator follows the simulated tenant's get-siem-logs chain with real HMAC signatures, in both file
// formats, and checks that every record of every file reaches the bus once, decodes into Seg_Cg_CL, and carries
// the Logtype of its file's type.
func TestAgainstSimulator(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	s, err := sim.New(sim.Options{Seed: 5, Mailboxes: 6, Days: 1, Start: now, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	files := s.LegacySIEMFiles()
	want := 0
	for _, f := range files {
		want += len(f.Records)
	}
	if len(files) < 5 || want == 0 {
		t.Fatalf("the simulator serves %d files with %d records", len(files), want)
	}
	logtypeOf := map[string]string{"receipt": "email_receipt", "process": "email_process", "delivery": "email_delivery",
		"jrnl": "email_journal", "av": "email_antivirus", "spam": "email_spam", "internal_email_protect": "email_iep",
		"impersonation_protect": "email_ttp_impersonation", "url_protect": "email_ttp_url", "attachment_protect": "email_ttp_ap"}
	wantTypes := map[string]int{}
	for _, f := range files {
		wantTypes[logtypeOf[f.Type]] += len(f.Records)
	}
	for _, format := range []string{FormatKeyValue, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			signer, err := mimecast.NewHMACSigner(mimecast.HMACConfig{AppID: sim.DefaultAppID, AppKey: sim.DefaultAppKey,
				AccessKey: sim.DefaultAccessKey, SecretKey: sim.DefaultSecretKey}, func() time.Time { return now }, nil)
			if err != nil {
				t.Fatal(err)
			}
			b := openBus(t)
			c, err := New(Config{Tenant: "acme", Client: newHTTPClient(t, srv.URL, signer), Publisher: b,
				Checkpoints: b.Checkpoints(), Now: func() time.Time { return now }, FileFormat: format, ChunkSize: 50,
				TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Collect(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if !st.CaughtUp || st.Pages != len(files) || st.Rows != want || st.Malformed != 0 {
				t.Fatalf("stats %+v: want %d files, %d records, caught up", st, len(files), want)
			}
			gotTypes := map[string]int{}
			ids := map[string]bool{}
			for _, bt := range drainBatches(t, b) {
				for _, r := range bt.Records {
					row, err := schema.SegCg.Decode("acme", r, now)
					if err != nil {
						t.Fatalf("record does not decode: %v\n%s", err, r)
					}
					gotTypes[row[schema.SegCg.ColumnIndex("Logtype")].(string)]++
					ids[row[schema.SegCg.ColumnIndex("processingId")].(string)] = true
				}
			}
			for lt, n := range wantTypes {
				if gotTypes[lt] != n {
					t.Errorf("%s: %d records, want %d (got %v)", lt, gotTypes[lt], n, gotTypes)
				}
			}
			if len(ids) != want {
				t.Errorf("%d distinct processing ids for %d records", len(ids), want)
			}
			again, err := c.Collect(testCtx(t))
			if err != nil || again.Pages != 0 || !again.CaughtUp {
				t.Fatalf("second run %+v %v: want caught up with nothing new", again, err)
			}
		})
	}
}
