package syslog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/rawlog"
	"github.com/castwatch/castwatch/internal/testutil"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testClock() time.Time { return testNow }

// testSink records delivered batches; it fails while failing() says so.
type testSink struct {
	mu      sync.Mutex
	items   []rawlog.Item
	batches [][]rawlog.Item
	calls   int
	fail    func(call int) bool
	block   chan struct{} // when set, Deliver waits for it to be closed
}

var errSink = errors.New("store unavailable")

func (s *testSink) Deliver(ctx context.Context, items []rawlog.Item) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil && s.fail(s.calls) {
		return errSink
	}
	s.items = append(s.items, items...)
	s.batches = append(s.batches, items)
	return nil
}

func (s *testSink) delivered() []rawlog.Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.items)
}

// eventually polls cond until it holds or 15 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start runs a listener until the test ends (or stop is called) and waits until it is bound.
func start(t *testing.T, cfg Config, sink Sink, opts ...Option) (l *Listener, stop func() error) {
	t.Helper()
	l, err := New(cfg, sink, append([]Option{WithClock(testClock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	<-l.Ready()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("run did not return")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return l, stop
}

func counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 64)
	c.Collect(ch)
	close(ch)
	var sum float64
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		sum += d.GetCounter().GetValue()
	}
	return sum
}

// mimecastLines returns real Mimecast lines: the parse testdata (legacy SIEM key_value, Splunk-forwarded and
// CEF lines) and JSON lines of the recorded corpus (audit events, SIEM v2 batches, TTP URL and DLP logs).
func mimecastLines(t *testing.T) []string {
	t.Helper()
	var lines []string
	read := func(path string, limit int) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		n := 0
		for sc.Scan() && n < limit {
			l := strings.TrimSpace(sc.Text())
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			lines = append(lines, l)
			n++
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"siem_kv.log", "exabeam_lines.log", "cef_lines.log"} {
		read(filepath.Join("..", "parse", "testdata", name), 8)
	}
	dir := testutil.CorpusDir(t)
	for _, rel := range []string{"audit_events/test-audit-events.log", "siem_logs/test-siem-v2-logs.log",
		"ttp_url_logs/test-ttp-url-logs.log", "dlp_logs/test-dlp-logs.log", "siem_logs/test-siem-logs.log"} {
		read(filepath.Join(dir, rel), 6)
	}
	return lines
}

// itemKey is what an item says, without where it came from (Source and Line differ between a file and syslog).
func itemKey(it rawlog.Item) string {
	table, reason := "", ""
	if it.Table != nil {
		table = it.Table.Name
	}
	if it.Rejection != nil {
		reason = it.Rejection.Reason + ": " + it.Rejection.Detail + ": " + it.Rejection.Raw
	}
	return fmt.Sprintf("%s|%d|%s|%v|%+v|%s|%s", it.Format, it.Index, table, it.Row, it.Events, it.Skip, reason)
}

// expectedKeys runs each message's payload through rawlog as `castwatch ingest` does, giving the items syslog
// must deliver. The payload is the line, except that a CEF line keeps the syslog header (without its PRI) as the
// CEF prefix.
func expectedKeys(t *testing.T, lines []string, tenant string) (keys []string, stored int) {
	t.Helper()
	for i, l := range lines {
		if parse.DetectFormat([]byte(l)) == parse.FormatCEF {
			l = strings.TrimPrefix(header(i, l), "<14>")
			if _, rest, ok := strings.Cut(l, ">"); ok && strings.HasPrefix(l, "<") {
				l = rest
			}
		}
		_, err := rawlog.Run(context.Background(), strings.NewReader(l), "file", rawlog.Options{Tenant: tenant, Now: testClock},
			func(it rawlog.Item) error {
				keys = append(keys, itemKey(it))
				if it.Row != nil || len(it.Events) > 0 {
					stored++
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(keys)
	return keys, stored
}

// diffKeys describes how two sorted key lists differ (at most three keys each way, shortened).
func diffKeys(got, want []string) string {
	count := map[string]int{}
	for _, k := range got {
		count[k]++
	}
	for _, k := range want {
		count[k]--
	}
	var extra, missing []string
	for k, n := range count {
		short := k[:min(len(k), 300)]
		switch {
		case n > 0 && len(extra) < 3:
			extra = append(extra, short)
		case n < 0 && len(missing) < 3:
			missing = append(missing, short)
		}
	}
	return fmt.Sprintf("got %d items, want %d\nunexpected: %q\nmissing: %q", len(got), len(want), extra, missing)
}

// header wraps a line in one of the header styles, chosen by i.
func header(i int, line string) string {
	switch i % 4 {
	case 0:
		return fmt.Sprintf("<134>1 2026-01-02T03:04:05.%03dZ mta01 mimecast %d siem [meta seq=\"%d\"] \xef\xbb\xbf%s", i, i, i, line)
	case 1:
		return "<134>Jan  2 03:04:05 mta01 mimecast[7]: " + line
	case 2:
		return "<14>" + line
	}
	return line
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and returns the file paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "castwatch syslog test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTransportsDeliverMimecastLines sends real Mimecast lines, behind every header style, over each transport
// and framing, and checks that the sink gets exactly the items `castwatch ingest` makes of the same lines.
func TestTransportsDeliverMimecastLines(t *testing.T) {
	lines := mimecastLines(t)
	want, stored := expectedKeys(t, lines, "acme")
	if stored < len(lines)*3/4 {
		t.Fatalf("only %d of %d test lines give rows or events", stored, len(lines))
	}
	certFile, keyFile, pool := selfSigned(t)
	octet := func(w io.Writer, msg string) error { _, err := fmt.Fprintf(w, "%d %s", len(msg), msg); return err }
	newline := func(w io.Writer, msg string) error { _, err := io.WriteString(w, msg+"\n"); return err }
	tests := []struct {
		name      string
		transport string
		dial      func(addr string) (net.Conn, error)
		write     func(w io.Writer, msg string) error
	}{
		{"udp", TransportUDP, func(a string) (net.Conn, error) { return net.Dial("udp", a) },
			func(w io.Writer, msg string) error { _, err := io.WriteString(w, msg); return err }},
		{"tcp octet counting", TransportTCP, func(a string) (net.Conn, error) { return net.Dial("tcp", a) }, octet},
		{"tcp newline", TransportTCP, func(a string) (net.Conn, error) { return net.Dial("tcp", a) }, newline},
		{"tls octet counting", TransportTLS, func(a string) (net.Conn, error) {
			return tls.Dial("tcp", a, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		}, octet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Tenant: "acme", BatchSize: 7, BatchWait: 20 * time.Millisecond}
			switch tt.transport {
			case TransportUDP:
				cfg.UDP = "127.0.0.1:0"
			case TransportTCP:
				cfg.TCP = "127.0.0.1:0"
			case TransportTLS:
				cfg.TLS, cfg.CertFile, cfg.KeyFile = "127.0.0.1:0", certFile, keyFile
			}
			sink := &testSink{}
			reg := prometheus.NewRegistry()
			l, _ := start(t, cfg, sink, WithRegisterer(reg))
			conn, err := tt.dial(l.Addr(tt.transport).String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for i, line := range lines {
				if err := tt.write(conn, header(i, line)); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, "every item", func() bool { return len(sink.delivered()) >= len(want) })
			var got []string
			for _, it := range sink.delivered() {
				got = append(got, itemKey(it))
				if !strings.HasPrefix(it.Source, "syslog+"+tt.transport+"://127.0.0.1:") {
					t.Errorf("source %q", it.Source)
				}
				if it.Line < 1 || it.Line > len(lines) {
					t.Errorf("line %d", it.Line)
				}
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("delivered items differ from what ingest makes of the lines: %s", diffKeys(got, want))
			}
			if n := counter(t, l.Metrics().Received.WithLabelValues(tt.transport)); n != float64(len(lines)) {
				t.Errorf("received %v messages, want %d", n, len(lines))
			}
			if n := counter(t, l.Metrics().Items); n != float64(len(want)) {
				t.Errorf("items delivered metric %v, want %d", n, len(want))
			}
			sink.mu.Lock()
			for _, b := range sink.batches {
				if len(b) > cfg.BatchSize {
					t.Errorf("batch of %d items, more than %d", len(b), cfg.BatchSize)
				}
			}
			sink.mu.Unlock()
			if mfs, err := reg.Gather(); err != nil || len(mfs) == 0 {
				t.Errorf("registry gathered %d families: %v", len(mfs), err)
			}
		})
	}
}

// TestOversizeMessages sends a message over the limit on each transport, followed by a normal one: the big one
// becomes a rejection with ReasonTooLarge (quarantinable, raw text bounded), the next is read normally.
func TestOversizeMessages(t *testing.T) {
	const max = 1024
	const kv = "datetime=2017-05-26T16:47:41+0100|aCode=7O7I7MvGP1mj8plHRDuHEA|acc=C0A0|SpamLimit=0|IP=123.123.123.123|Dir=Internal|Sender=from@mimecast.com|Rcpt=auser@mimecast.com|Act=Acc|SpamScore=1"
	big := "<134>Jan  2 03:04:05 mta01 mimecast: datetime=" + strings.Repeat("é", 3000)
	tests := []struct {
		name      string
		transport string
		send      func(c net.Conn) error
		size      int // the size the rejection reports, 0 when unknown (UDP)
	}{
		{"udp", TransportUDP, func(c net.Conn) error {
			if _, err := io.WriteString(c, big); err != nil {
				return err
			}
			_, err := io.WriteString(c, kv)
			return err
		}, 0},
		{"tcp octet counting", TransportTCP, func(c net.Conn) error {
			_, err := fmt.Fprintf(c, "%d %s%d %s", len(big), big, len(kv), kv)
			return err
		}, len(big)},
		{"tcp newline", TransportTCP, func(c net.Conn) error {
			_, err := fmt.Fprintf(c, "%s\r\n%s\n", big, kv)
			return err
		}, len(big)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Tenant: "acme", MaxMessageBytes: max, BatchWait: 10 * time.Millisecond}
			if tt.transport == TransportUDP {
				cfg.UDP = "127.0.0.1:0"
			} else {
				cfg.TCP = "127.0.0.1:0"
			}
			sink := &testSink{}
			l, _ := start(t, cfg, sink)
			conn, err := net.Dial(tt.transport, l.Addr(tt.transport).String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := tt.send(conn); err != nil {
				t.Fatal(err)
			}
			eventually(t, "two items", func() bool { return len(sink.delivered()) >= 2 })
			items := sink.delivered()
			if len(items) != 2 {
				t.Fatalf("%d items", len(items))
			}
			rej := items[0].Rejection
			if rej == nil || rej.Reason != ReasonTooLarge || items[0].Line != 1 || rej.Line != 1 {
				t.Fatalf("first item %+v rejection %+v", items[0], rej)
			}
			if !strings.HasPrefix(rej.Raw, "<134>Jan  2") || len(rej.Raw) > rawKeep+len("…") || !strings.HasSuffix(rej.Raw, "…") {
				t.Errorf("raw kept %d bytes: %.80q", len(rej.Raw), rej.Raw)
			}
			wantDetail := fmt.Sprintf("%d bytes, more than %d", tt.size, max)
			if tt.size == 0 {
				wantDetail = fmt.Sprintf("more than %d bytes", max)
			}
			if rej.Detail != wantDetail {
				t.Errorf("detail %q, want %q", rej.Detail, wantDetail)
			}
			q := rej.Quarantined("acme", testNow)
			if q.Reason != ReasonTooLarge+": "+wantDetail || q.Position != "line 1" {
				t.Errorf("quarantined %+v", q)
			}
			if items[1].Row == nil || items[1].Line != 2 {
				t.Errorf("message after the big one: %+v", items[1])
			}
			if n := counter(t, l.Metrics().Rejected.WithLabelValues(ReasonTooLarge)); n != 1 {
				t.Errorf("rejected metric %v", n)
			}
		})
	}
}

// TestSinkFailureThenRecovery makes the sink fail until told otherwise: TCP reading pauses while it fails, and
// once it recovers every message is delivered, none lost.
func TestSinkFailureThenRecovery(t *testing.T) {
	lines := mimecastLines(t)
	var mu sync.Mutex
	failing := true
	sink := &testSink{fail: func(int) bool { mu.Lock(); defer mu.Unlock(); return failing }}
	cfg := Config{TCP: "127.0.0.1:0", Tenant: "acme", BatchSize: 5, BatchWait: 5 * time.Millisecond,
		RetryAttempts: 10000, RetryBackoff: 2 * time.Millisecond, RetryMaxBackoff: 10 * time.Millisecond}
	l, _ := start(t, cfg, sink)
	conn, err := net.Dial("tcp", l.Addr(TransportTCP).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(i int) {
		msg := header(i, lines[i])
		if _, err := fmt.Fprintf(conn, "%d %s", len(msg), msg); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	m := l.Metrics()
	eventually(t, "failed deliveries", func() bool { return counter(t, m.DeliveryFailures) >= 3 })
	for i := 1; i < len(lines); i++ {
		send(i)
	}
	time.Sleep(200 * time.Millisecond)
	// the reader was already waiting for the second message when the sink failed; it then waits for the sink
	if n := counter(t, m.Received.WithLabelValues(TransportTCP)); n > 2 {
		t.Errorf("%v messages read while the sink was failing", n)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	want, _ := expectedKeys(t, lines, "acme")
	eventually(t, "every item", func() bool { return len(sink.delivered()) >= len(want) })
	var got []string
	for _, it := range sink.delivered() {
		got = append(got, itemKey(it))
	}
	slices.Sort(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delivered items differ: %s", diffKeys(got, want))
	}
	if counter(t, m.LostBatches) != 0 || counter(t, m.LostItems) != 0 {
		t.Errorf("lost %v batches", counter(t, m.LostBatches))
	}
	if counter(t, m.Received.WithLabelValues(TransportTCP)) != float64(len(lines)) {
		t.Errorf("received %v", counter(t, m.Received.WithLabelValues(TransportTCP)))
	}
}

// TestSinkFailureGivesUp checks that a batch the sink keeps refusing is retried RetryAttempts times, then
// counted as lost and logged with its item count, and that reading goes on afterwards.
func TestSinkFailureGivesUp(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	sink := &testSink{fail: func(call int) bool { return call <= 3 }}
	cfg := Config{TCP: "127.0.0.1:0", Tenant: "acme", BatchWait: 50 * time.Millisecond,
		RetryAttempts: 3, RetryBackoff: time.Millisecond}
	l, _ := start(t, cfg, sink, WithLogger(log))
	conn, err := net.Dial("tcp", l.Addr(TransportTCP).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const kv = "datetime=2017-05-26T16:47:41+0100|aCode=A%d|acc=C0A0|IP=123.123.123.123|Dir=Internal|Sender=a@b.c|Rcpt=d@e.f|Act=Acc"
	if _, err := fmt.Fprintf(conn, kv+"\n"+kv+"\n"+kv+"\n", 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	m := l.Metrics()
	eventually(t, "a lost batch", func() bool { return counter(t, m.LostBatches) == 1 })
	if n := counter(t, m.LostItems); n != 3 {
		t.Errorf("lost %v items, want 3", n)
	}
	if n := counter(t, m.DeliveryFailures); n != 3 {
		t.Errorf("%v failed deliveries, want 3", n)
	}
	if !strings.Contains(logs.String(), `msg="syslog batch lost" items=3 attempts=3 err="store unavailable"`) {
		t.Errorf("log:\n%s", logs.String())
	}
	if _, err := fmt.Fprintf(conn, kv+"\n", 4); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next message", func() bool { return len(sink.delivered()) == 1 })
	if it := sink.delivered()[0]; it.Line != 4 || it.Row == nil {
		t.Errorf("item after the loss: %+v", it)
	}
}

// TestUDPDropsWhenQueueFull blocks the sink with a one-message queue: datagrams that find the queue full are
// dropped and counted, and every datagram read is either delivered or counted as dropped.
func TestUDPDropsWhenQueueFull(t *testing.T) {
	sink := &testSink{block: make(chan struct{})}
	cfg := Config{UDP: "127.0.0.1:0", QueueSize: 1, BatchSize: 1, BatchWait: time.Millisecond}
	l, _ := start(t, cfg, sink)
	conn, err := net.Dial("udp", l.Addr(TransportUDP).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 200
	for i := range n {
		if _, err := fmt.Fprintf(conn, "datetime=2017-05-26T16:47:41+0100|aCode=A%d|acc=C0A0|Act=Acc|Dir=Inbound|Rcpt=a@b.c", i); err != nil {
			t.Fatal(err)
		}
	}
	m := l.Metrics()
	eventually(t, "every datagram read", func() bool { return counter(t, m.Received.WithLabelValues(TransportUDP)) == n })
	close(sink.block)
	dropped := m.Dropped.WithLabelValues(TransportUDP, "queue full")
	eventually(t, "delivered and dropped to add up", func() bool {
		return float64(len(sink.delivered()))+counter(t, dropped) == n
	})
	if d := counter(t, dropped); d < n-3 {
		t.Errorf("%v dropped; with a blocked sink and a one-message queue at most 3 fit", d)
	}
}

// TestShutdownDrains stops the listener while messages wait for their batch: they are delivered before Run
// returns.
func TestShutdownDrains(t *testing.T) {
	sink := &testSink{}
	cfg := Config{TCP: "127.0.0.1:0", BatchWait: time.Hour, BatchSize: 1000}
	l, stop := start(t, cfg, sink)
	conn, err := net.Dial("tcp", l.Addr(TransportTCP).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 20 {
		fmt.Fprintf(conn, "<14>datetime=2017-05-26T16:47:41+0100|aCode=A%d|acc=C0A0|Act=Acc|Dir=Inbound|Rcpt=a@b.c\n", i)
	}
	eventually(t, "20 messages read", func() bool { return counter(t, l.Metrics().Received.WithLabelValues(TransportTCP)) == 20 })
	if len(sink.delivered()) != 0 {
		t.Fatal("delivered before the batch was due")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := len(sink.delivered()); got != 20 {
		t.Errorf("%d items delivered at shutdown, want 20", got)
	}
}

// TestShutdownDrainTimeout stops the listener while the sink hangs: after DrainTimeout the batch is lost and
// counted, and Run returns.
func TestShutdownDrainTimeout(t *testing.T) {
	sink := &testSink{block: make(chan struct{})}
	cfg := Config{TCP: "127.0.0.1:0", BatchWait: time.Millisecond, DrainTimeout: 50 * time.Millisecond}
	l, stop := start(t, cfg, sink)
	conn, err := net.Dial("tcp", l.Addr(TransportTCP).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "datetime=2017-05-26T16:47:41+0100|aCode=A|acc=C0A0|Act=Acc|Dir=Inbound|Rcpt=a@b.c\n")
	eventually(t, "message read", func() bool { return counter(t, l.Metrics().Received.WithLabelValues(TransportTCP)) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := counter(t, l.Metrics().LostItems); n != 1 {
		t.Errorf("lost %v items, want 1", n)
	}
}

func TestRunErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	l, err := New(Config{UDP: "127.0.0.1:0", TCP: busy.Addr().String()}, &testSink{})
	if err != nil {
		t.Fatal(err)
	}
	err = l.Run(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "syslog: listen tcp "+busy.Addr().String()+": ") {
		t.Fatalf("run on a busy port: %v", err)
	}
	select {
	case <-l.Ready():
	default:
		t.Error("ready not closed after a failed bind")
	}
	if l.Addr(TransportUDP) != nil || l.Addr(TransportTCP) != nil {
		t.Error("addresses published after a failed bind")
	}
	if err := l.Run(context.Background()); err == nil || err.Error() != "syslog: run called twice" {
		t.Errorf("second run: %v", err)
	}
}

// TestTooManyConnections refuses a connection past MaxConnections and keeps serving the open one.
func TestTooManyConnections(t *testing.T) {
	sink := &testSink{}
	l, _ := start(t, Config{TCP: "127.0.0.1:0", MaxConnections: 1, BatchWait: time.Millisecond}, sink)
	addr := l.Addr(TransportTCP).String()
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	fmt.Fprintf(first, "datetime=2017-05-26T16:47:41+0100|aCode=A|acc=C0A0|Act=Acc|Dir=Inbound|Rcpt=a@b.c\n")
	eventually(t, "first connection served", func() bool { return len(sink.delivered()) == 1 })
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = second.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := second.Read(make([]byte, 1)); err == nil {
		t.Error("second connection not closed")
	}
	if n := counter(t, l.Metrics().ConnectionsRefused.WithLabelValues(TransportTCP, "too many connections")); n != 1 {
		t.Errorf("refused %v", n)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTruncatedFrame closes a connection inside an octet-counted frame: the part that arrived is rejected as a
// truncated frame.
func TestTruncatedFrame(t *testing.T) {
	sink := &testSink{}
	l, _ := start(t, Config{TCP: "127.0.0.1:0", BatchWait: time.Millisecond}, sink)
	conn, err := net.Dial("tcp", l.Addr(TransportTCP).String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "100 <14>datetime=2017"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	eventually(t, "the rejection", func() bool { return len(sink.delivered()) == 1 })
	rej := sink.delivered()[0].Rejection
	if rej == nil || rej.Reason != ReasonTruncated || rej.Detail != "connection ended after 17 bytes" || rej.Raw != "<14>datetime=2017" {
		t.Errorf("rejection %+v", rej)
	}
}

// TestTLSRejectsPlainText sends plain text to the TLS listener: the handshake fails, the connection is counted
// as refused and nothing is delivered.
func TestTLSRejectsPlainText(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	sink := &testSink{}
	l, _ := start(t, Config{TLS: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile, BatchWait: time.Millisecond}, sink)
	conn, err := net.Dial("tcp", l.Addr(TransportTLS).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "datetime=2017-05-26T16:47:41+0100|aCode=A|acc=C0A0|Act=Acc\n"); err != nil {
		t.Fatal(err)
	}
	refused := l.Metrics().ConnectionsRefused.WithLabelValues(TransportTLS, "tls handshake")
	eventually(t, "the refused handshake", func() bool { return counter(t, refused) == 1 })
	if n := len(sink.delivered()); n != 0 {
		t.Errorf("%d items delivered from a plain-text connection", n)
	}
	if n := counter(t, l.Metrics().Received.WithLabelValues(TransportTLS)); n != 0 {
		t.Errorf("%v messages received", n)
	}
}
