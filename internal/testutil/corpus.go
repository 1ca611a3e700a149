// Package testutil holds helpers shared by tests: where the recorded Mimecast corpus lives.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// CorpusDir returns the directory of the recorded Mimecast records (../shared/corpus/elastic-mimecast beside the
// repository, or $CASTWATCH_CORPUS). The corpus is not committed to this repository; a test that needs it fails
// with a clear message when it is missing.
func CorpusDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("CASTWATCH_CORPUS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	d := filepath.Join(root, "..", "shared", "corpus", "elastic-mimecast")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("the Mimecast corpus is missing: expected it at %s (or set CASTWATCH_CORPUS): %v", d, err)
	}
	return d
}
