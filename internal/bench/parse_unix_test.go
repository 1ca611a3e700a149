//go:build unix

package bench

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeJQ puts an executable named jq with the given shell body first on PATH.
func fakeJQ(t *testing.T, body string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jq"), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestParseWithPeer(t *testing.T) {
	const lines = 1200
	for _, tc := range []struct {
		name string
		// body is the fake jq; it gets the jq arguments, the input file last.
		body      string
		wantLines int64
		wantNote  string
	}{
		{"one output line per input line", `for f; do :; done; exec cat "$f"`, lines, ""},
		{"half the lines", `for f; do :; done; exec awk 'NR % 2 == 0' "$f"`, lines / 2, ""},
		{"jq fails", `echo "jq: error: boom" >&2; exit 2`, 0, "jq failed: jq: error: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakeJQ(t, tc.body)
			res, err := Parse(context.Background(), ParseOptions{Lines: lines, Input: Input{Traffic: tiny(t)}, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			checkParseCastwatch(t, res, lines)
			for _, c := range res.Cases {
				if tc.wantNote != "" {
					if c.Peer != nil || c.PeerNote != tc.wantNote || c.Ratio != 0 {
						t.Errorf("%s: peer %+v, note %q, ratio %g", c.Name, c.Peer, c.PeerNote, c.Ratio)
					}
					continue
				}
				if c.Peer == nil {
					t.Fatalf("%s: no peer figures (note %q)", c.Name, c.PeerNote)
				}
				if c.Peer.Items != tc.wantLines || c.Peer.Seconds <= 0 {
					t.Errorf("%s: peer %d lines in %g s, want %d", c.Name, c.Peer.Items, c.Peer.Seconds, tc.wantLines)
				}
				if want := c.Castwatch.PerSecond / c.Peer.PerSecond; math.Abs(c.Ratio-want) > 1e-9*want {
					t.Errorf("%s: ratio %g, want %g", c.Name, c.Ratio, want)
				}
			}
			if !strings.HasPrefix(res.Cases[0].PeerCommand, "jq -c .") || !strings.HasPrefix(res.Cases[1].PeerCommand, "jq -R -c ") {
				t.Errorf("peer commands %q, %q", res.Cases[0].PeerCommand, res.Cases[1].PeerCommand)
			}
		})
	}
}

func TestProcessCPUAdvances(t *testing.T) {
	before := processCPU()
	deadline := time.Now().Add(30 * time.Millisecond)
	n := 0
	for time.Now().Before(deadline) {
		n++
	}
	if after := processCPU(); after <= before {
		t.Fatalf("CPU time %s after busy work, %s before (%d spins)", after, before, n)
	}
}
