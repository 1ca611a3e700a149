package threatintel

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/mimecast"
)

// headerSlot receives the headers of the response to a request made with it in the context.
type headerSlot struct{}

// captureTransport copies each response's headers into the request context's slot.
type captureTransport struct{ next http.RoundTripper }

func (c captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		if slot, ok := r.Context().Value(headerSlot{}).(*http.Header); ok {
			*slot = resp.Header.Clone()
		}
	}
	return resp, err
}

// headerClient gives the real Mimecast client the DoHeader method the collector needs, by reading the headers
// off the transport. The client retries, authenticates and turns failures into *mimecast.APIError as in
// production; the last attempt's headers are the ones returned.
type headerClient struct{ c *mimecast.Client }

func newHeaderClient(t *testing.T, baseURL string, id, secret string, now func() time.Time) headerClient {
	t.Helper()
	c, err := mimecast.New(mimecast.Config{BaseURL: baseURL, ClientID: id, ClientSecret: secret,
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond},
		mimecast.WithHTTPClient(&http.Client{Transport: captureTransport{next: http.DefaultTransport}}),
		mimecast.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	return headerClient{c: c}
}

func (h headerClient) DoHeader(ctx context.Context, method, path string, body any) ([]byte, http.Header, error) {
	var header http.Header
	var out []byte
	err := h.c.Do(context.WithValue(ctx, headerSlot{}, &header), method, path, body, &out)
	return out, header, err
}

// recorder publishes on the real bus and remembers what was stored and dropped.
type recorder struct {
	b       *bus.Bus
	mu      sync.Mutex
	batches []collect.Batch
	ids     []string
	dups    []string
}

func (r *recorder) Publish(ctx context.Context, subject, msgID string, data []byte) (bool, error) {
	dup, err := r.b.Publish(ctx, subject, msgID, data)
	if err != nil {
		return dup, err
	}
	b, err := collect.DecodeBatch(data)
	if err != nil {
		return dup, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if dup {
		r.dups = append(r.dups, msgID)
	} else {
		r.batches = append(r.batches, b)
		r.ids = append(r.ids, msgID)
	}
	return dup, nil
}

func (r *recorder) take() (stored []collect.Batch, dropped []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stored, dropped = r.batches, r.dups
	r.batches, r.dups = nil, nil
	return stored, dropped
}

func openBus(t *testing.T) (context.Context, *bus.Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir(), RelaxedSync: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return ctx, b
}
