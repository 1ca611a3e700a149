package normalize

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestAuditGolden decodes every record of the Elastic audit test log as Audit_CL rows, normalizes them and
// compares the events with testdata/audit_events.golden.json. Regenerate with: go test ./internal/normalize -update
func TestAuditGolden(t *testing.T) {
	data, err := os.ReadFile(elasticAuditLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ingested := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f, ok := For(schema.Audit.Name)
	if !ok {
		t.Fatal("no Audit_CL mapping")
	}
	var events []schema.Event
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		row, err := schema.Audit.Decode("acme", json.RawMessage(line), ingested)
		if err != nil {
			continue // the trailing pagination envelope; TestElasticAuditComparison checks it is the only one
		}
		evs, err := f(row)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, evs...)
	}
	out, err := json.MarshalIndent(events, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	golden := filepath.Join("testdata", "audit_events.golden.json")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/normalize -update)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("events differ from %s; inspect and regenerate with -update", golden)
	}
}
