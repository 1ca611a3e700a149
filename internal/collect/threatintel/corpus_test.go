package threatintel

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/castwatch/castwatch/internal/testutil"
)

// corpusObjects returns the STIX objects of a recorded feed file (one object per line, as Elastic stores them,
// with the file name it added in Content-Disposition removed) and how many of them are indicators.
func corpusObjects(t *testing.T, rel string) (objs []map[string]any, indicators int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var o map[string]any
		if err := json.Unmarshal(line, &o); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		delete(o, "Content-Disposition")
		if o["type"] == "indicator" {
			indicators++
		}
		objs = append(objs, o)
	}
	return objs, indicators
}
