package normalize

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/castwatch/castwatch/internal/schema"
)

// TestTableGolden normalizes every corpus record of every table but Audit_CL (TestAuditGolden covers it) and
// compares the events with testdata/<table>.golden.json. Regenerate with: go test ./internal/normalize -update
func TestTableGolden(t *testing.T) {
	for _, tab := range schema.Tables() {
		if tab.Name == schema.Audit.Name || tab.Name == schema.RawEvent.Name {
			continue // TestAuditGolden and TestRawEventRoundTrip cover these
		}
		t.Run(tab.Name, func(t *testing.T) {
			events, _ := normalizeAll(t, tab)
			if events == nil {
				events = []schema.Event{}
			}
			out, err := json.MarshalIndent(events, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			golden := filepath.Join("testdata", tab.Name+".golden.json")
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
		})
	}
}

// TestMappingsCoverEveryTable checks that every stored table has exactly one mapping, listed in the order of
// schema.Tables().
func TestMappingsCoverEveryTable(t *testing.T) {
	ms := Mappings()
	tables := schema.Tables()
	if len(ms) != len(tables) {
		t.Fatalf("%d mappings for %d tables", len(ms), len(tables))
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.Table] {
			t.Errorf("table %s mapped twice", m.Table)
		}
		seen[m.Table] = true
		if schema.TableByName(m.Table) == nil {
			t.Errorf("mapping for unknown table %s", m.Table)
		}
	}
	for _, tab := range tables {
		if _, ok := For(tab.Name); !ok {
			t.Errorf("no mapping for %s", tab.Name)
		}
	}
	if _, ok := For("Nope_CL"); ok {
		t.Error("For found a mapping for an unknown table")
	}
}
