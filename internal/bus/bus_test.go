package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T, dir string) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := Open(ctx, Config{DataDir: dir, NakDelay: 50 * time.Millisecond, RelaxedSync: true}, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestOpenValidate(t *testing.T) {
	_, err := Open(context.Background(), Config{}, nil)
	if err == nil || err.Error() != "bus: data dir is required for the embedded server" {
		t.Fatalf("want data dir error, got %v", err)
	}
	_, err = Open(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: "nonsense"}, nil)
	if err == nil {
		t.Fatal("bad listen address accepted")
	}
}

func TestPublishDeduplicates(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := testCtx(t)
	tests := []struct {
		name    string
		id      string
		wantDup bool
		wantN   uint64
	}{
		{"first", "id-1", false, 1},
		{"same id again", "id-1", true, 1},
		{"other id", "id-2", false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dup, err := b.Publish(ctx, "castwatch.batch.t.audit", tc.id, []byte("page"))
			if err != nil {
				t.Fatal(err)
			}
			if dup != tc.wantDup {
				t.Fatalf("duplicate = %v, want %v", dup, tc.wantDup)
			}
			n, err := b.StreamMessages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantN {
				t.Fatalf("stream holds %d messages, want %d", n, tc.wantN)
			}
		})
	}
	t.Run("empty id rejected", func(t *testing.T) {
		if _, err := b.Publish(ctx, "castwatch.batch.t.audit", "", []byte("x")); err == nil {
			t.Fatal("publish without id accepted")
		}
	})
	t.Run("subject outside the stream rejected", func(t *testing.T) {
		if _, err := b.Publish(ctx, "elsewhere.x", "id-9", []byte("x")); err == nil {
			t.Fatal("publish outside the stream accepted")
		}
	})
}

func TestAckOnlyAfterHandlerSuccess(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := testCtx(t)
	if _, err := b.Publish(ctx, "castwatch.batch.t.audit", "m1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	entered := make(chan Msg, 1)
	release := make(chan struct{})
	stop, err := b.Consume(ctx, "store", "", func(ctx context.Context, m Msg) error {
		entered <- m
		<-release
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	m := <-entered
	if string(m.Data) != "one" || m.MsgID != "m1" || m.Delivered != 1 || m.StreamSeq != 1 {
		t.Fatalf("unexpected message %+v", m)
	}
	st, err := b.ConsumerState(ctx, "store")
	if err != nil {
		t.Fatal(err)
	}
	if st.AckPending != 1 {
		t.Fatalf("while the handler runs: ack pending = %d, want 1", st.AckPending)
	}
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if err := b.WaitDrained(short, "store"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitDrained returned %v before the handler finished", err)
	}
	close(release)
	if err := b.WaitDrained(ctx, "store"); err != nil {
		t.Fatal(err)
	}
	st, _ = b.ConsumerState(ctx, "store")
	if st.AckPending != 0 || st.Pending != 0 {
		t.Fatalf("after success: %+v, want nothing pending", st)
	}
}

func TestHandlerErrorRedelivers(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		if _, err := b.Publish(ctx, "castwatch.batch.t.audit", fmt.Sprintf("m%d", i), []byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	attempts := map[string][]uint64{}
	done := map[string]bool{}
	stop, err := b.Consume(ctx, "store", "castwatch.batch.>", func(ctx context.Context, m Msg) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[m.MsgID] = append(attempts[m.MsgID], m.Delivered)
		if m.MsgID == "m2" && len(attempts[m.MsgID]) < 3 {
			return errors.New("store unavailable")
		}
		done[m.MsgID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := b.WaitDrained(ctx, "store"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"m1", "m2", "m3"} {
		if !done[id] {
			t.Errorf("%s never handled successfully", id)
		}
	}
	if got := attempts["m2"]; len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Errorf("m2 deliveries = %v, want [1 2 3]", got)
	}
	if got := attempts["m1"]; len(got) != 1 {
		t.Errorf("m1 delivered %d times, want once", len(got))
	}
}

func TestConsumeFilterAndStop(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := testCtx(t)
	for _, s := range []string{"castwatch.batch.a.audit", "castwatch.batch.b.audit", "castwatch.batch.a.dlp"} {
		if _, err := b.Publish(ctx, s, s, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []string
	stop, err := b.Consume(ctx, "only-a", "castwatch.batch.a.>", func(ctx context.Context, m Msg) error {
		mu.Lock()
		got = append(got, m.Subject)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WaitDrained(ctx, "only-a"); err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // idempotent
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "castwatch.batch.a.audit" || got[1] != "castwatch.batch.a.dlp" {
		t.Fatalf("filtered consumer got %v", got)
	}
	if _, err := b.Consume(ctx, "", "", func(context.Context, Msg) error { return nil }); err == nil {
		t.Fatal("consumer without durable name accepted")
	}
	if _, err := b.Consume(ctx, "x", "", nil); err == nil {
		t.Fatal("consumer without handler accepted")
	}
}

func TestCheckpoints(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := testCtx(t)
	cp := b.Checkpoints()
	if _, found, err := cp.Get(ctx, "tenant.audit"); err != nil || found {
		t.Fatalf("missing key: found=%v err=%v", found, err)
	}
	for _, v := range []string{`{"n":1}`, `{"n":2}`} {
		if err := cp.Put(ctx, "tenant.audit", []byte(v)); err != nil {
			t.Fatal(err)
		}
		got, found, err := cp.Get(ctx, "tenant.audit")
		if err != nil || !found || string(got) != v {
			t.Fatalf("get = %q %v %v, want %q", got, found, err, v)
		}
	}
	if err := cp.Put(ctx, "bad key with spaces", []byte("x")); err == nil {
		t.Fatal("invalid key accepted")
	}
}

func TestRestartKeepsMessagesCheckpointsAndPosition(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	b := openTest(t, dir)
	for i := 1; i <= 2; i++ {
		if _, err := b.Publish(ctx, "castwatch.batch.t.audit", fmt.Sprintf("m%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Checkpoints().Put(ctx, "t.audit", []byte("cp")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	handler := func(ctx context.Context, m Msg) error {
		mu.Lock()
		seen = append(seen, m.MsgID)
		mu.Unlock()
		return nil
	}
	stop, err := b.Consume(ctx, "store", "", handler)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WaitDrained(ctx, "store"); err != nil {
		t.Fatal(err)
	}
	stop()
	b.Close()

	b2 := openTest(t, dir)
	if n, err := b2.StreamMessages(ctx); err != nil || n != 2 {
		t.Fatalf("after restart: %d messages (%v), want 2", n, err)
	}
	if v, found, err := b2.Checkpoints().Get(ctx, "t.audit"); err != nil || !found || string(v) != "cp" {
		t.Fatalf("after restart: checkpoint %q %v %v", v, found, err)
	}
	dup, err := b2.Publish(ctx, "castwatch.batch.t.audit", "m2", []byte("x"))
	if err != nil || !dup {
		t.Fatalf("republish after restart: duplicate=%v err=%v, want duplicate", dup, err)
	}
	if _, err := b2.Publish(ctx, "castwatch.batch.t.audit", "m3", []byte("x")); err != nil {
		t.Fatal(err)
	}
	stop, err = b2.Consume(ctx, "store", "", handler)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := b2.WaitDrained(ctx, "store"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[m1 m2 m3]" {
		t.Fatalf("deliveries across restart = %v, want [m1 m2 m3]", seen)
	}
}

func TestToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"acme", "acme"},
		{"Acme-EU-1", "Acme-EU-1"},
		{"acme.com", "acme_2ecom"},
		{"a b", "a_20b"},
		{"a_b", "a_5fb"},
		{"", "_"},
		{"x>*", "x_3e_2a"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := Token(tc.in); got != tc.want {
				t.Fatalf("Token(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	if Token("a.b") == Token("a_b") {
		t.Fatal("distinct names share a token")
	}
}

func TestWaitDrainedRightAfterPublish(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := testCtx(t)
	var mu sync.Mutex
	handled := map[string]bool{}
	stop, err := b.Consume(ctx, "store", "", func(ctx context.Context, m Msg) error {
		mu.Lock()
		defer mu.Unlock()
		if m.Delivered == 1 {
			return errors.New("first delivery fails")
		}
		handled[m.MsgID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("m%d", i)
		if _, err := b.Publish(ctx, "castwatch.batch.t.audit", id, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := b.WaitDrained(ctx, "store"); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		ok := handled[id]
		mu.Unlock()
		if !ok {
			t.Fatalf("WaitDrained returned before %s was handled", id)
		}
	}
	t.Run("unknown consumer", func(t *testing.T) {
		if err := b.WaitDrained(ctx, "nobody"); err == nil {
			t.Fatal("WaitDrained on a missing consumer succeeded")
		}
	})
}

func TestStopHandsBackBufferedMessages(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := testCtx(t)
	for i := 0; i < 5; i++ {
		if _, err := b.Publish(ctx, "castwatch.batch.t.audit", fmt.Sprintf("m%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	handled := map[string]int{}
	entered := make(chan struct{}, 5)
	release := make(chan struct{})
	stop, err := b.Consume(ctx, "store", "", func(ctx context.Context, m Msg) error {
		entered <- struct{}{}
		<-release
		mu.Lock()
		handled[m.MsgID]++
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	<-stopped
	mu.Lock()
	first := len(handled)
	mu.Unlock()
	if first == 5 {
		t.Fatal("every message was handled after stop was called")
	}
	// The messages still buffered at stop go back at once: a new consumer drains them well within the ack wait.
	stop2, err := b.Consume(ctx, "store", "", func(ctx context.Context, m Msg) error {
		mu.Lock()
		handled[m.MsgID]++
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.WaitDrained(short, "store"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled) != 5 {
		t.Fatalf("handled %v, want all 5 messages", handled)
	}
	for id, n := range handled {
		if n != 1 {
			t.Errorf("%s handled %d times, want once", id, n)
		}
	}
}

func TestSlowHandlerIsNotRedelivered(t *testing.T) {
	ctx := testCtx(t)
	b, err := Open(ctx, Config{DataDir: t.TempDir(), AckWait: time.Second, RelaxedSync: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Publish(ctx, "castwatch.batch.t.audit", "slow", []byte("x")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	deliveries := 0
	stop, err := b.Consume(ctx, "store", "", func(ctx context.Context, m Msg) error {
		mu.Lock()
		deliveries++
		mu.Unlock()
		time.Sleep(2200 * time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := b.WaitDrained(ctx, "store"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if deliveries != 1 {
		t.Fatalf("a handler slower than the ack wait saw %d deliveries, want 1", deliveries)
	}
}

func TestExternalServer(t *testing.T) {
	ctx := testCtx(t)
	srv, err := Open(ctx, Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", RelaxedSync: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := srv.ClientURL()
	if url == "" {
		t.Fatal("listening embedded server has no client URL")
	}
	if got := openTest(t, t.TempDir()).ClientURL(); got != "" {
		t.Errorf("embedded server without listener reports URL %q", got)
	}
	ext, err := Open(ctx, Config{URL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	if ext.ClientURL() != url {
		t.Errorf("external ClientURL = %q", ext.ClientURL())
	}
	// Streams already exist on the server; opening again must reuse them, deduplication included.
	if dup, err := ext.Publish(ctx, "castwatch.batch.t.audit", "m1", []byte("x")); err != nil || dup {
		t.Fatalf("publish: dup=%v err=%v", dup, err)
	}
	if dup, err := srv.Publish(ctx, "castwatch.batch.t.audit", "m1", []byte("x")); err != nil || !dup {
		t.Fatalf("republish through the other connection: dup=%v err=%v", dup, err)
	}
	if err := ext.Checkpoints().Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := srv.Checkpoints().Get(ctx, "k"); err != nil || !ok || string(v) != "v" {
		t.Fatalf("checkpoint through the other connection: %q %v %v", v, ok, err)
	}
	if _, err := Open(ctx, Config{URL: "nats://127.0.0.1:1", ConnectTimeout: 200 * time.Millisecond}, nil); err == nil {
		t.Fatal("connecting to a closed port succeeded")
	}
}

// Messages waiting when the consumer starts arrive in batches of at most the requested size, in order; a
// message whose result is an error is delivered again on its own terms while the rest of its batch is acked.
func TestConsumeBatch(t *testing.T) {
	b := openTest(t, t.TempDir())
	ctx := testCtx(t)
	const n = 40
	for i := range n {
		if _, err := b.Publish(ctx, "castwatch.batch.t.audit", fmt.Sprintf("m%02d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var sizes []int
	var order []string
	failed := map[string]int{}
	stop, err := b.ConsumeBatch(ctx, "batched", "", 8, func(ctx context.Context, ms []Msg) []error {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(ms))
		errs := make([]error, len(ms))
		for i, m := range ms {
			if m.MsgID == "m07" && failed[m.MsgID] == 0 {
				failed[m.MsgID]++
				errs[i] = errors.New("try again")
				continue
			}
			order = append(order, m.MsgID)
		}
		return errs
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := b.WaitDrained(ctx, "batched"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != n {
		t.Fatalf("handled %d messages, want %d: %v", len(order), n, order)
	}
	seen := map[string]int{}
	for _, id := range order {
		seen[id]++
	}
	if len(seen) != n {
		t.Errorf("a message was acknowledged twice or lost: %v", order)
	}
	biggest := 0
	for _, s := range sizes {
		if s > 8 {
			t.Errorf("batch of %d messages, want at most 8", s)
		}
		biggest = max(biggest, s)
	}
	if biggest < 2 {
		t.Errorf("batch sizes %v: messages waiting together were never handled together", sizes)
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] && order[i] != "m07" && order[i-1] != "m07" {
			t.Errorf("out of order: %s after %s", order[i], order[i-1])
		}
	}
	if _, err := b.ConsumeBatch(ctx, "x", "", 4, nil); err == nil {
		t.Fatal("batch consumer without handler accepted")
	}
}
