package bench

import (
	"context"
	"testing"
)

func TestParseWithoutJQ(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no jq here
	const lines = 1500
	res, err := Parse(context.Background(), ParseOptions{Lines: lines, Input: Input{Traffic: tiny(t)}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkParseCastwatch(t, res, lines)
	for _, c := range res.Cases {
		if c.Peer != nil || c.PeerNote != NoJQ || c.Ratio != 0 {
			t.Errorf("%s: peer %+v, note %q, ratio %g without jq", c.Name, c.Peer, c.PeerNote, c.Ratio)
		}
	}
}

// checkParseCastwatch checks castwatch's figures: both inputs, every line read into a row and at least one event,
// nothing rejected, consistent rates and memory.
func checkParseCastwatch(t *testing.T, res ParseResult, lines int) {
	t.Helper()
	if res.Lines != lines || len(res.Cases) != 2 || res.Cases[0].Name != "api-json" || res.Cases[1].Name != "siem-kv" {
		t.Fatalf("result %+v", res)
	}
	for _, c := range res.Cases {
		cw := c.Castwatch
		if c.Lines != lines || cw.Items != int64(lines) || c.Rows != int64(lines) || c.Events < int64(lines) || c.Rejected != 0 {
			t.Errorf("%s: %d lines read of %d: %d rows, %d events, %d rejected", c.Name, cw.Items, lines, c.Rows, c.Events, c.Rejected)
		}
		if c.Bytes <= int64(lines) || cw.Seconds <= 0 || cw.PerSecond <= 0 {
			t.Errorf("%s: %d bytes, %g s, %g lines/s", c.Name, c.Bytes, cw.Seconds, cw.PerSecond)
		}
		if want := float64(c.Events) / cw.Seconds; c.EventsPerSecond != want {
			t.Errorf("%s: %g events/s, want %g", c.Name, c.EventsPerSecond, want)
		}
		if c.Memory.AllocBytes == 0 || c.Memory.Mallocs == 0 {
			t.Errorf("%s: memory %+v", c.Name, c.Memory)
		}
		if c.PeerCommand == "" {
			t.Errorf("%s: no peer command", c.Name)
		}
	}
}
