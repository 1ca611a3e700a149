package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Msg is one message handed to a consumer's handler.
type Msg struct {
	// Subject is the subject the message was published on.
	Subject string
	// MsgID is the publisher's Nats-Msg-Id.
	MsgID string
	// Data is the payload.
	Data []byte
	// StreamSeq is the message's sequence number in the stream.
	StreamSeq uint64
	// Delivered counts deliveries of this message, 1 on the first.
	Delivered uint64
}

// Handler handles one message. Returning nil acknowledges it; returning an error asks for redelivery after the
// bus's NakDelay. A message is never dropped because its handler failed.
type Handler func(ctx context.Context, m Msg) error

// BatchHandler handles messages delivered together, in order of delivery. It returns one error per message:
// nil acknowledges that message, an error asks for its redelivery after the bus's NakDelay. A nil slice
// acknowledges them all.
type BatchHandler func(ctx context.Context, ms []Msg) []error

// Consume starts a durable pull consumer named durable on the batch stream, receiving messages whose subject
// matches filterSubject (empty: every batch subject). Messages are handled one at a time, in order of delivery;
// at most the bus's MaxAckPending are unacknowledged at once. A message is acknowledged (and the acknowledgement
// confirmed by the server) only after handler returns nil. The consumer keeps its position across restarts.
// stop ends consumption and waits for a running handler to return; cancelling ctx does the same.
func (b *Bus) Consume(ctx context.Context, durable, filterSubject string, handler Handler) (stop func(), err error) {
	if handler == nil {
		return nil, errors.New("bus: consume: handler is required")
	}
	return b.ConsumeBatch(ctx, durable, filterSubject, 1, func(ctx context.Context, ms []Msg) []error {
		return []error{handler(ctx, ms[0])}
	})
}

// ConsumeBatch is Consume for handlers that do better with several messages at once (one store transaction for
// many small batches). Each call of handler gets the messages the client already holds, up to most of them (and
// the bus's MaxAckPending), waiting for none beyond the first: a lone message is handled at once.
func (b *Bus) ConsumeBatch(ctx context.Context, durable, filterSubject string, most int, handler BatchHandler) (stop func(), err error) {
	if durable == "" {
		return nil, errors.New("bus: consume: durable name is required")
	}
	if handler == nil {
		return nil, errors.New("bus: consume: handler is required")
	}
	most = min(max(most, 1), b.cfg.MaxAckPending)
	if filterSubject == "" {
		filterSubject = b.cfg.SubjectPrefix + ".>"
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, b.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filterSubject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxAckPending: b.cfg.MaxAckPending,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", durable, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(b.cfg.MaxAckPending))
	if err != nil {
		return nil, fmt.Errorf("bus: consume %s: %w", durable, err)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &batchConsumer{bus: b, it: it, most: most, handler: handler, log: b.logger.With("consumer", durable),
		done: make(chan struct{})}
	go c.run(hctx)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			c.stopping.Store(true)
			it.Drain()
			select {
			case <-c.done:
			case <-time.After(b.cfg.AckWait):
				c.log.Warn("consumer did not stop in time")
			}
			cancel()
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-c.done:
		}
	}()
	return stop, nil
}

// batchConsumer is one running ConsumeBatch.
type batchConsumer struct {
	bus      *Bus
	it       jetstream.MessagesContext
	most     int
	handler  BatchHandler
	log      *slog.Logger
	stopping atomic.Bool
	done     chan struct{}
}

// run takes messages off the iterator until it is closed, handing them to the handler in batches.
func (c *batchConsumer) run(ctx context.Context) {
	defer close(c.done)
	for {
		jm, err := c.it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			// Missed heartbeats and the like: the iterator re-issues its pull requests; try again shortly.
			c.log.Debug("consume", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		batch := []jetstream.Msg{jm}
		for len(batch) < c.most {
			// Only what the client holds already: a message still on its way waits for the next batch.
			more, err := c.it.Next(jetstream.NextMaxWait(time.Millisecond))
			if err != nil {
				break
			}
			batch = append(batch, more)
		}
		if c.stopping.Load() {
			// Buffered but not handled: hand them back at once instead of letting them wait out the ack wait.
			for _, jm := range batch {
				_ = jm.Nak()
			}
			continue
		}
		c.handle(ctx, batch)
	}
}

// handle runs the handler on one batch and acknowledges or rejects each message as it says.
func (c *batchConsumer) handle(ctx context.Context, batch []jetstream.Msg) {
	ms := make([]Msg, len(batch))
	for i, jm := range batch {
		m := Msg{Subject: jm.Subject(), Data: jm.Data()}
		if h := jm.Headers(); h != nil {
			m.MsgID = h.Get(nats.MsgIdHdr)
		}
		if md, err := jm.Metadata(); err == nil {
			m.StreamSeq, m.Delivered = md.Sequence.Stream, md.NumDelivered
		}
		ms[i] = m
	}
	errs := c.bus.runHandler(ctx, batch, ms, c.handler)
	if errs != nil && len(errs) != len(batch) {
		err := fmt.Errorf("bus: handler returned %d results for %d messages", len(errs), len(batch))
		errs = make([]error, len(batch))
		for i := range errs {
			errs[i] = err
		}
	}
	nakDelay := c.bus.cfg.NakDelay
	for i, jm := range batch {
		m := ms[i]
		if errs != nil && errs[i] != nil {
			c.log.Warn("message handling failed; redelivery scheduled", "subject", m.Subject, "msg_id", m.MsgID,
				"delivered", m.Delivered, "retry_in", nakDelay, "err", errs[i])
			if err := jm.NakWithDelay(nakDelay); err != nil {
				c.log.Warn("nak failed; the message is redelivered after the ack wait", "msg_id", m.MsgID, "err", err)
			}
			continue
		}
		actx, acancel := context.WithTimeout(ctx, 30*time.Second)
		if err := jm.DoubleAck(actx); err != nil {
			// The handler's effects are idempotent; an unconfirmed ack only means a harmless redelivery.
			c.log.Warn("ack not confirmed; the message may be redelivered", "msg_id", m.MsgID, "err", err)
		}
		acancel()
	}
}

// runHandler runs handler, telling the server the messages are still being worked on every third of the ack
// wait so that a slow handler is not overtaken by a redelivery.
func (b *Bus) runHandler(ctx context.Context, batch []jetstream.Msg, ms []Msg, handler BatchHandler) []error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(b.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, jm := range batch {
					_ = jm.InProgress()
				}
			}
		}
	}()
	return handler(ctx, ms)
}

// ConsumerState is the progress of a durable consumer.
type ConsumerState struct {
	// Pending counts matching messages not yet delivered.
	Pending uint64
	// AckPending counts messages delivered but not acknowledged (including those waiting for redelivery).
	AckPending int
	// Redelivered counts messages delivered more than once and not yet acknowledged.
	Redelivered int
}

// ConsumerState returns the current state of the durable consumer.
func (b *Bus) ConsumerState(ctx context.Context, durable string) (ConsumerState, error) {
	c, err := b.js.Consumer(ctx, b.cfg.Stream, durable)
	if err != nil {
		return ConsumerState{}, fmt.Errorf("bus: consumer %s: %w", durable, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return ConsumerState{}, fmt.Errorf("bus: consumer %s info: %w", durable, err)
	}
	return ConsumerState{Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered}, nil
}

// WaitDrained returns when every message published so far that the durable consumer receives has been
// acknowledged by it, or when ctx ends. It takes the stream sequence of the last matching message at the time of
// the call and waits until the consumer's acknowledgement floor has reached it. (The consumer's pending count
// alone is not enough: the server updates it asynchronously, so it can read zero just after a publish.)
func (b *Bus) WaitDrained(ctx context.Context, durable string) error {
	c, err := b.js.Consumer(ctx, b.cfg.Stream, durable)
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", durable, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("bus: consumer %s info: %w", durable, err)
	}
	filter := info.Config.FilterSubject
	if filter == "" {
		filter = b.cfg.SubjectPrefix + ".>"
	}
	var target uint64
	for _, f := range append([]string{filter}, info.Config.FilterSubjects...) {
		if f == "" {
			continue
		}
		last, err := b.stream.GetLastMsgForSubject(ctx, f)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("bus: last message for %s: %w", f, err)
		}
		target = max(target, last.Sequence)
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if info.AckFloor.Stream >= target || (info.NumAckPending == 0 && info.Delivered.Stream >= target) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bus: wait for %s to drain (acknowledged up to %d of %d, %d unacknowledged): %w",
				durable, info.AckFloor.Stream, target, info.NumAckPending, ctx.Err())
		case <-t.C:
		}
		if info, err = c.Info(ctx); err != nil {
			return fmt.Errorf("bus: consumer %s info: %w", durable, err)
		}
	}
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("bus: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bus: listen address %q: bad port", addr)
	}
	return host, port, nil
}
