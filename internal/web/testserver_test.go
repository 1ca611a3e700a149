package web

import (
	"net/http"
	"testing"
	"time"
)

// newTestHandler builds the web handler for a test. Tests of pages and API routes build their handler here, so
// that options every test needs (the clock, the built assets, the login) are set in one place.
func newTestHandler(t testing.TB, opts Options) http.Handler {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	if opts.Static == nil {
		opts.Static = builtAssets()
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
