package collecttest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
)

// OpenBus starts an embedded bus in a temporary directory for one test and closes it after.
func OpenBus(t testing.TB) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir(), RelaxedSync: true}, nil)
	if err != nil {
		t.Fatalf("open bus: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

var drainSeq atomic.Int64

// Drain reads every message on the bus with a fresh consumer, in stream order.
func Drain(t testing.TB, b *bus.Bus) []bus.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want, err := b.StreamMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []bus.Msg
	done := make(chan struct{})
	stop, err := b.Consume(ctx, fmt.Sprintf("drain%d", drainSeq.Add(1)), "", func(_ context.Context, m bus.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
		if uint64(len(got)) == want {
			close(done)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if want > 0 {
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("drained %d of %d messages", len(got), want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(got)
}
