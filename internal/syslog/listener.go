// Package syslog receives raw Mimecast log lines over syslog — UDP, TCP (octet-counted or newline-delimited
// frames, RFC 6587) and TLS (RFC 5425) — reads each message's RFC 5424 or RFC 3164 header, hands the MSG to
// internal/rawlog (the engine under `castwatch ingest`) and delivers the resulting items to a Sink in batches.
// See README.md for what can be lost and when.
package syslog

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/rawlog"
)

// Rejection reasons set by this package (rawlog and the parsers add theirs).
const (
	// ReasonTooLarge rejects a message longer than Config.MaxMessageBytes.
	ReasonTooLarge = "message too large"
	// ReasonTruncated rejects a TCP frame the connection ended inside (octet-counted frames, or a newline
	// frame cut by a read error).
	ReasonTruncated = "truncated frame"
)

// Transports, as used in metric labels, Addr and item sources.
const (
	TransportUDP = "udp"
	TransportTCP = "tcp"
	TransportTLS = "tls"
)

// rawKeep is how much of a rejected message is kept in the rejection.
const rawKeep = rawlog.DefaultMaxRawBytes

// handshakeTimeout bounds a TLS handshake.
const handshakeTimeout = 10 * time.Second

// Sink receives the items read from syslog messages, in batches of up to Config.BatchSize. A batch is offered
// again, the same slice, when Deliver fails, so Deliver must be safe to repeat (the store's natural keys make
// rows idempotent). Deliver must return when ctx ends.
type Sink interface {
	Deliver(ctx context.Context, items []rawlog.Item) error
}

// Option configures a Listener.
type Option func(*options)

type options struct {
	log *slog.Logger
	now func() time.Time
	reg prometheus.Registerer
}

// WithLogger sets the logger (default: none).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock giving rows their TimeGenerated and RFC 3164 times their year (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRegisterer registers the listener's metrics with reg (default: not registered).
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// Listener receives syslog messages and delivers their items to a Sink. Build it with New and start it with
// Run, once.
type Listener struct {
	cfg     Config
	sink    Sink
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics
	tls     *tls.Config
	queue   chan message
	gate    *gate
	connSem chan struct{}

	mu      sync.Mutex
	started bool
	addrs   map[string]net.Addr
	ready   chan struct{}
	conns   map[net.Conn]struct{}
	udpSeq  int
}

// message is one received syslog message on its way to the pipeline.
type message struct {
	source string
	seq    int
	data   []byte
	size   int64
	reason string // ReasonTooLarge or ReasonTruncated; data is then the first bytes only
}

// New checks cfg, loads the TLS certificate when TLS is on and builds the metrics. It binds nothing: Run does.
func New(cfg Config, sink Sink, opts ...Option) (*Listener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("syslog: sink is required")
	}
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	cfg = cfg.withDefaults()
	m, err := NewMetrics(o.reg)
	if err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	l := &Listener{cfg: cfg, sink: sink, log: o.log, now: o.now, metrics: m,
		queue: make(chan message, cfg.QueueSize), gate: newGate(), connSem: make(chan struct{}, cfg.MaxConnections),
		addrs: map[string]net.Addr{}, ready: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	if cfg.TLS != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("syslog: load tls certificate: %w", err)
		}
		l.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return l, nil
}

// Metrics returns the listener's metrics.
func (l *Listener) Metrics() *Metrics { return l.metrics }

// Ready is closed once Run has bound every configured address, or failed to.
func (l *Listener) Ready() <-chan struct{} { return l.ready }

// Addr returns the bound address of a transport (TransportUDP, TransportTCP, TransportTLS): nil before Ready,
// when the transport is off, or when binding failed.
func (l *Listener) Addr(transport string) net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addrs[transport]
}

// Run binds the configured addresses and receives messages until ctx ends. Then it stops reading, closes every
// connection, and parses and delivers the messages already received for at most Config.DrainTimeout. It returns
// nil after a clean stop and an error when an address cannot be bound.
func (l *Listener) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.started {
		l.mu.Unlock()
		return errors.New("syslog: run called twice")
	}
	l.started = true
	l.mu.Unlock()

	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}
	var lc net.ListenConfig
	var udp net.PacketConn
	var streams []struct {
		ln        net.Listener
		transport string
	}
	bind := func() error {
		if l.cfg.UDP != "" {
			pc, err := lc.ListenPacket(ctx, "udp", l.cfg.UDP)
			if err != nil {
				return fmt.Errorf("syslog: listen udp %s: %w", l.cfg.UDP, err)
			}
			if uc, ok := pc.(*net.UDPConn); ok {
				_ = uc.SetReadBuffer(4 << 20) // best effort: the kernel caps it at net.core.rmem_max
			}
			udp = pc
			closers = append(closers, pc)
		}
		for _, s := range []struct{ transport, addr string }{{TransportTCP, l.cfg.TCP}, {TransportTLS, l.cfg.TLS}} {
			if s.addr == "" {
				continue
			}
			ln, err := lc.Listen(ctx, "tcp", s.addr)
			if err != nil {
				return fmt.Errorf("syslog: listen %s %s: %w", s.transport, s.addr, err)
			}
			closers = append(closers, ln)
			streams = append(streams, struct {
				ln        net.Listener
				transport string
			}{ln, s.transport})
		}
		return nil
	}
	if err := bind(); err != nil {
		closeAll()
		close(l.ready)
		return err
	}
	l.mu.Lock()
	if udp != nil {
		l.addrs[TransportUDP] = udp.LocalAddr()
	}
	for _, s := range streams {
		l.addrs[s.transport] = s.ln.Addr()
	}
	l.mu.Unlock()
	close(l.ready)
	l.log.Info("syslog listening", "udp", l.Addr(TransportUDP), "tcp", l.Addr(TransportTCP), "tls", l.Addr(TransportTLS))

	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer pcancel()
	pipelineDone := make(chan struct{})
	go func() {
		defer close(pipelineDone)
		l.pipeline(pctx)
	}()

	var readers sync.WaitGroup
	if udp != nil {
		readers.Go(func() { l.serveUDP(ctx, udp) })
	}
	for _, s := range streams {
		readers.Go(func() { l.accept(ctx, s.ln, s.transport, &readers) })
	}

	<-ctx.Done()
	closeAll()
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	readers.Wait()
	close(l.queue)
	drain := time.NewTimer(l.cfg.DrainTimeout)
	defer drain.Stop()
	select {
	case <-pipelineDone:
	case <-drain.C:
		l.log.Warn("syslog drain timed out; undelivered batches are lost", "timeout", l.cfg.DrainTimeout)
		pcancel()
		<-pipelineDone
	}
	l.log.Info("syslog stopped")
	return nil
}

// serveUDP reads datagrams, one message each, until the socket is closed. A datagram that finds the queue full
// is dropped and counted.
func (l *Listener) serveUDP(ctx context.Context, pc net.PacketConn) {
	buf := make([]byte, min(l.cfg.MaxMessageBytes, 65535)+1)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Warn("syslog udp read failed", "err", err)
			continue
		}
		if len(bytes.TrimSpace(buf[:n])) == 0 {
			continue
		}
		l.metrics.Received.WithLabelValues(TransportUDP).Inc()
		l.mu.Lock()
		l.udpSeq++
		seq := l.udpSeq
		l.mu.Unlock()
		m := message{source: "syslog+udp://" + addr.String(), seq: seq, size: int64(n)}
		if n > l.cfg.MaxMessageBytes {
			m.reason, m.data, m.size = ReasonTooLarge, bytes.Clone(buf[:min(n, rawKeep)]), 0
		} else {
			m.data = bytes.Clone(buf[:n])
		}
		select {
		case l.queue <- m:
		default:
			l.metrics.Dropped.WithLabelValues(TransportUDP, "queue full").Inc()
		}
	}
}

// accept takes TCP or TLS connections until the listener is closed.
func (l *Listener) accept(ctx context.Context, ln net.Listener, transport string, wg *sync.WaitGroup) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Warn("syslog accept failed", "transport", transport, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		select {
		case l.connSem <- struct{}{}:
		default:
			l.metrics.ConnectionsRefused.WithLabelValues(transport, "too many connections").Inc()
			l.log.Warn("syslog connection refused: too many connections", "transport", transport,
				"peer", conn.RemoteAddr().String(), "max", l.cfg.MaxConnections)
			_ = conn.Close()
			continue
		}
		l.mu.Lock()
		if ctx.Err() != nil {
			l.mu.Unlock()
			_ = conn.Close()
			<-l.connSem
			return
		}
		l.conns[conn] = struct{}{}
		l.mu.Unlock()
		wg.Go(func() {
			defer func() {
				l.mu.Lock()
				delete(l.conns, conn)
				l.mu.Unlock()
				_ = conn.Close()
				<-l.connSem
			}()
			l.serveConn(ctx, conn, transport)
		})
	}
}

// serveConn reads the frames of one connection. Before each frame it waits while the sink is failing, and it
// waits for room in the queue, so a slow or failing sink slows the senders down through TCP flow control.
func (l *Listener) serveConn(ctx context.Context, conn net.Conn, transport string) {
	peer := conn.RemoteAddr().String()
	var r io.Reader = conn
	if transport == TransportTLS {
		tc := tls.Server(conn, l.tls)
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			l.metrics.ConnectionsRefused.WithLabelValues(transport, "tls handshake").Inc()
			l.log.Debug("syslog tls handshake failed", "peer", peer, "err", err)
			return
		}
		r = tc
	}
	source := "syslog+" + transport + "://" + peer
	fr := newFrameReader(r, l.cfg.MaxMessageBytes, rawKeep)
	seq := 0
	for {
		if err := l.gate.wait(ctx); err != nil {
			return
		}
		f, err := fr.next()
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				l.log.Debug("syslog connection read failed", "transport", transport, "peer", peer, "err", err)
			}
			return
		}
		if !f.tooLarge && !f.truncated && len(bytes.TrimSpace(f.data)) == 0 {
			continue
		}
		seq++
		l.metrics.Received.WithLabelValues(transport).Inc()
		m := message{source: source, seq: seq, data: f.data, size: f.size}
		switch {
		case f.tooLarge:
			m.reason = ReasonTooLarge
		case f.truncated:
			m.reason = ReasonTruncated
		}
		select {
		case l.queue <- m:
		case <-ctx.Done():
			l.metrics.Dropped.WithLabelValues(transport, "shutdown").Inc()
			return
		}
	}
}

// pipeline parses the queued messages and delivers their items in batches until the queue is closed and empty.
func (l *Listener) pipeline(ctx context.Context) {
	var batch []rawlog.Item
	var timer *time.Timer
	var timerC <-chan time.Time
	flush := func() {
		if timer != nil {
			timer.Stop()
			timerC = nil
		}
		for len(batch) > 0 {
			n := min(len(batch), l.cfg.BatchSize)
			l.deliver(ctx, batch[:n:n])
			batch = batch[n:]
		}
		batch = nil
	}
	for {
		select {
		case m, ok := <-l.queue:
			if !ok {
				flush()
				return
			}
			batch = append(batch, l.items(ctx, m)...)
			switch {
			case len(batch) >= l.cfg.BatchSize:
				flush()
			case len(batch) > 0 && timerC == nil:
				timer = time.NewTimer(l.cfg.BatchWait)
				timerC = timer.C
			}
		case <-timerC:
			timerC = nil
			flush()
		}
	}
}

// items reads one message: its header, then its MSG through rawlog. Items take the message's source and number
// as their Source and Line.
func (l *Listener) items(ctx context.Context, m message) []rawlog.Item {
	if m.reason != "" {
		var detail string
		switch {
		case m.reason == ReasonTruncated:
			detail = fmt.Sprintf("connection ended after %d bytes", m.size)
		case m.size > 0:
			detail = fmt.Sprintf("%d bytes, more than %d", m.size, l.cfg.MaxMessageBytes)
		default: // a UDP datagram, cut by the read buffer: its size is unknown
			detail = fmt.Sprintf("more than %d bytes", l.cfg.MaxMessageBytes)
		}
		l.metrics.reject(m.reason)
		return []rawlog.Item{{Source: m.source, Line: m.seq, Rejection: &rawlog.Rejection{Source: m.source,
			Line: m.seq, Reason: m.reason, Detail: detail, Raw: truncate(m.data, rawKeep, m.reason == ReasonTooLarge)}}}
	}
	data := bytes.TrimRight(m.data, "\r\n\x00")
	h := ParseHeader(data, l.now())
	if len(bytes.TrimSpace(h.Msg)) == 0 {
		return nil
	}
	text := h.Msg
	if h.Format != HeaderNone && (l.cfg.Format == parse.FormatAuto || l.cfg.Format == parse.FormatCEF) &&
		parse.DetectFormat(h.Msg) == parse.FormatCEF {
		// A CEF line keeps its syslog header (without the PRI) as the CEF prefix, as a collector's file does:
		// the CEF reader takes the forward time from it when the record has none.
		text = bytes.TrimPrefix(data[bytes.IndexByte(data, '>')+1:], bom)
	}
	// The line limit is the text's own length: no line of it can exceed it, and rawlog sizes its line buffer by
	// it. The file limit bounds what a gzip-compressed MSG may inflate to.
	opts := rawlog.Options{Format: l.cfg.Format, Tenant: l.cfg.Tenant, MaxLineBytes: max(len(text), 16),
		MaxFileBytes: int64(l.cfg.MaxMessageBytes), MaxRawBytes: rawKeep, Now: l.now}
	var out []rawlog.Item
	_, err := rawlog.Run(context.WithoutCancel(ctx), bytes.NewReader(text), m.source, opts, func(it rawlog.Item) error {
		it.Line = m.seq
		if it.Rejection != nil {
			it.Rejection.Line = m.seq
			l.metrics.reject(it.Rejection.Reason)
		}
		out = append(out, it)
		return nil
	})
	if err != nil {
		l.log.Debug("syslog message read with an error", "source", m.source, "message", m.seq, "err", err)
	}
	return out
}

// deliver offers a batch to the sink until it takes it, retrying with doubling backoff up to RetryAttempts; a
// batch still refused then (or when ctx has ended) is lost, counted and logged. While a batch is being
// retried, TCP and TLS reading pauses.
func (l *Listener) deliver(ctx context.Context, batch []rawlog.Item) {
	backoff := l.cfg.RetryBackoff
	var err error
	attempt := 0
	for attempt < l.cfg.RetryAttempts && ctx.Err() == nil {
		attempt++
		if err = l.sink.Deliver(ctx, batch); err == nil {
			l.metrics.Batches.Inc()
			l.metrics.Items.Add(float64(len(batch)))
			l.gate.open()
			return
		}
		l.metrics.DeliveryFailures.Inc()
		l.gate.close()
		if attempt == l.cfg.RetryAttempts {
			break
		}
		l.log.Warn("syslog delivery failed; retrying", "items", len(batch), "attempt", attempt, "backoff", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, l.cfg.RetryMaxBackoff)
	}
	if err == nil {
		err = ctx.Err()
	}
	l.metrics.LostBatches.Inc()
	l.metrics.LostItems.Add(float64(len(batch)))
	l.log.Error("syslog batch lost", "items", len(batch), "attempts", attempt, "err", err)
	l.gate.open()
}

// truncate keeps at most n bytes of raw, cut at a rune boundary and marked "…" when cut. partial says raw is
// already only the start of a longer text: it is marked, and a rune split at its end is dropped.
func truncate(raw []byte, n int, partial bool) string {
	if len(raw) <= n && !partial {
		return string(raw)
	}
	cut := min(n, len(raw))
	if cut < len(raw) {
		for cut > 0 && !utf8.RuneStart(raw[cut]) {
			cut--
		}
	} else {
		i := cut - 1
		for i > 0 && i > cut-utf8.UTFMax && !utf8.RuneStart(raw[i]) {
			i--
		}
		if i >= 0 && !utf8.FullRune(raw[i:cut]) {
			cut = i
		}
	}
	return string(raw[:cut]) + "…"
}

// gate pauses TCP reading while the sink is failing.
type gate struct {
	mu sync.Mutex
	ch chan struct{} // closed while open
}

func newGate() *gate {
	ch := make(chan struct{})
	close(ch)
	return &gate{ch: ch}
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.ch:
	default:
		close(g.ch)
	}
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.ch:
		g.ch = make(chan struct{})
	default:
	}
}

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
