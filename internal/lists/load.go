package lists

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

// feed reads one source (a list's or the peer groups') on a schedule and keeps its status.
type feed struct {
	name, label string
	kind        Kind
	src         Source
	interval    time.Duration
	set         *Set
	// apply parses a body and, when it parses, installs it; it returns the entries now in use.
	apply func(body []byte) (entries int, p parsed, err error)

	mu                 sync.Mutex
	st                 ListStatus
	etag, lastModified string
}

func (s *Set) newFeed(name string, kind Kind, src Source, label string) *feed {
	interval := src.Refresh
	if interval <= 0 {
		interval = s.opts.Refresh
	}
	return &feed{name: name, label: label, kind: kind, src: src, interval: interval, set: s,
		st: ListStatus{Name: name, Kind: kind, Source: label}}
}

func (f *feed) status() ListStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.InvalidEntries = slices.Clone(st.InvalidEntries)
	return st
}

func (f *feed) next() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.NextRefresh
}

// Load reads every configured source once; call it at startup, before Run. A file source that cannot be read or
// parsed is an error naming the list and the path (the list keeps its built-in default or stays empty). A URL
// that cannot be fetched is not: it is logged and shown in Status, and Run tries it again.
func (s *Set) Load(ctx context.Context) error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, f := range s.feeds {
		if err := f.refresh(ctx); err != nil && f.src.File != "" {
			errs = append(errs, fmt.Errorf("lists: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Run reloads each source on its interval (a failed one within 5 minutes) until ctx ends.
func (s *Set) Run(ctx context.Context) {
	if s == nil {
		return
	}
	var wg sync.WaitGroup
	for _, f := range s.feeds {
		wg.Go(func() { f.run(ctx) })
	}
	wg.Wait()
}

func (f *feed) run(ctx context.Context) {
	for {
		t := time.NewTimer(time.Until(f.next()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		_ = f.refresh(ctx) // recorded in the status and logged
	}
}

// refresh reads the source once. On any failure the content in use stays and the error is recorded.
func (f *feed) refresh(ctx context.Context) error {
	g, err := f.read(ctx)
	var entries int
	var p parsed
	if err == nil && !g.notModified {
		entries, p, err = f.apply(g.body)
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("%s: %w", f.name, err)
		f.st.LastError = err.Error()
		f.st.NextRefresh = now.Add(min(f.interval, retryAfterError))
		f.set.opts.Logger.Warn("list not reloaded; the previous content stays in use", "list", f.name, "source", f.label, "err", err)
		return err
	}
	f.st.LastError, f.st.LastLoaded, f.st.NextRefresh = "", now, now.Add(f.interval)
	if g.notModified {
		return nil
	}
	f.etag, f.lastModified = g.etag, g.lastModified
	f.st.Entries, f.st.Invalid, f.st.InvalidEntries = entries, p.invalidCount, p.invalid
	if p.invalidCount > 0 {
		first := p.invalid[0]
		f.set.opts.Logger.Warn("list entries skipped", "list", f.name, "source", f.label, "invalid", p.invalidCount,
			"first_line", first.Line, "first_reason", first.Reason)
	}
	return nil
}

// got is what one read of a source returned.
type got struct {
	body []byte
	// notModified: the URL answered 304 to the validators of the last applied read.
	notModified        bool
	etag, lastModified string
}

func (f *feed) read(ctx context.Context) (got, error) {
	if f.src.File != "" {
		body, err := readFile(f.src.File, f.set.opts.MaxBytes)
		return got{body: body}, err
	}
	return f.fetch(ctx)
}

func readFile(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer fh.Close()
	body, err := readLimited(fh, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return body, nil
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return body, nil
}

func (f *feed) fetch(ctx context.Context) (got, error) {
	ctx, cancel := context.WithTimeout(ctx, f.set.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.src.URL, nil)
	if err != nil {
		return got{}, err
	}
	f.mu.Lock()
	if f.etag != "" {
		req.Header.Set("If-None-Match", f.etag)
	}
	if f.lastModified != "" {
		req.Header.Set("If-Modified-Since", f.lastModified)
	}
	f.mu.Unlock()
	req.Header.Set("User-Agent", "castwatch-lists")
	resp, err := f.set.opts.Client.Do(req)
	if err != nil {
		return got{}, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return got{notModified: true}, nil
	case resp.StatusCode != http.StatusOK:
		return got{}, fmt.Errorf("GET %s: %s", f.src.URL, resp.Status)
	}
	body, err := readLimited(resp.Body, f.set.opts.MaxBytes)
	if err != nil {
		return got{}, fmt.Errorf("GET %s: %w", f.src.URL, err)
	}
	return got{body: body, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
}
