package bus

import (
	"context"
	"errors"
	"fmt"
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

// Consume starts a durable pull consumer named durable on the batch stream, receiving messages whose subject
// matches filterSubject (empty: every batch subject). Messages are handled one at a time, in order of delivery;
// at most the bus's MaxAckPending are unacknowledged at once. A message is acknowledged (and the acknowledgement
// confirmed by the server) only after handler returns nil. The consumer keeps its position across restarts.
// stop ends consumption and waits for a running handler to return; cancelling ctx does the same.
func (b *Bus) Consume(ctx context.Context, durable, filterSubject string, handler Handler) (stop func(), err error) {
	if durable == "" {
		return nil, errors.New("bus: consume: durable name is required")
	}
	if handler == nil {
		return nil, errors.New("bus: consume: handler is required")
	}
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
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	log := b.logger.With("consumer", durable)
	nakDelay := b.cfg.NakDelay
	var stopping atomic.Bool
	cc, err := cons.Consume(func(jm jetstream.Msg) {
		if stopping.Load() {
			// Buffered but not handled: hand it back at once instead of letting it wait out the ack wait.
			_ = jm.Nak()
			return
		}
		m := Msg{Subject: jm.Subject(), Data: jm.Data()}
		if h := jm.Headers(); h != nil {
			m.MsgID = h.Get(nats.MsgIdHdr)
		}
		if md, err := jm.Metadata(); err == nil {
			m.StreamSeq, m.Delivered = md.Sequence.Stream, md.NumDelivered
		}
		herr := b.runHandler(hctx, jm, m, handler)
		if herr != nil {
			log.Warn("message handling failed; redelivery scheduled", "subject", m.Subject, "msg_id", m.MsgID,
				"delivered", m.Delivered, "retry_in", nakDelay, "err", herr)
			if err := jm.NakWithDelay(nakDelay); err != nil {
				log.Warn("nak failed; the message is redelivered after the ack wait", "msg_id", m.MsgID, "err", err)
			}
			return
		}
		actx, acancel := context.WithTimeout(hctx, 30*time.Second)
		defer acancel()
		if err := jm.DoubleAck(actx); err != nil {
			// The handler's effects are idempotent; an unconfirmed ack only means a harmless redelivery.
			log.Warn("ack not confirmed; the message may be redelivered", "msg_id", m.MsgID, "err", err)
		}
	},
		jetstream.PullMaxMessages(b.cfg.MaxAckPending),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrConsumerDeleted) {
				log.Debug("consume", "err", err)
			}
		}))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bus: consume %s: %w", durable, err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stopping.Store(true)
			cc.Drain()
			select {
			case <-cc.Closed():
			case <-time.After(b.cfg.AckWait):
				log.Warn("consumer did not stop in time")
			}
			cancel()
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-cc.Closed():
		}
	}()
	return stop, nil
}

// runHandler runs handler, telling the server the message is still being worked on every third of the ack wait
// so that a slow handler is not overtaken by a redelivery.
func (b *Bus) runHandler(ctx context.Context, jm jetstream.Msg, m Msg, handler Handler) error {
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
				_ = jm.InProgress()
			}
		}
	}()
	return handler(ctx, m)
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
