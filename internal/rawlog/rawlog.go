// Package rawlog reads raw Mimecast log files and streams — legacy SIEM key_value lines, Splunk-forwarded lines
// in the layouts Exabeam reads, JSON API records and NDJSON SIEM batches, CEF — line by line, and turns each line
// into stored-table rows and normalized events, or into a rejection with its reason. Plain, gzip and zip inputs
// are read alike. It is the engine under `castwatch parse` and `castwatch ingest`.
package rawlog

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/castwatch/castwatch/internal/parse"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// Defaults of Options.
const (
	DefaultMaxLineBytes = 64 << 10
	DefaultMaxFileBytes = 1 << 30
	DefaultMaxRawBytes  = 2 << 10
)

// Rejection reasons set by this package (the parsers add theirs: parse.Reason*).
const (
	ReasonLineTooLong   = "line too long"
	ReasonFileTooLarge  = "file too large"
	ReasonUnknownFormat = "unknown format"
	ReasonInvalidJSON   = "invalid json"
	ReasonNotObject     = "json value is not an object"
	ReasonNoTable       = "json record of no known table"
	ReasonAPIFailure    = "api envelope with fail entries"
	ReasonSIEMNoFields  = "siem-kv line without key=value fields"
	ReasonNormalize     = "normalize failed"
	ReasonBadArchive    = "unreadable archive"
)

// ErrFileTooLarge is returned (wrapped) by Run when the input, decompressed, exceeds Options.MaxFileBytes.
var ErrFileTooLarge = errors.New("input exceeds the maximum file size")

// Options configure Run. The zero value reads any format with the defaults.
type Options struct {
	// Format is the format of every line, or parse.FormatAuto ("" too) to detect it per line.
	Format parse.Format
	// Tenant is the account the rows and events belong to; also the accountId of legacy SIEM lines without acc.
	Tenant string
	// MaxLineBytes is the longest line read (without its line end); a longer one is rejected and skipped
	// without being held in memory. 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxFileBytes bounds the bytes read from one input after decompression (all members of a zip together).
	// 0 means DefaultMaxFileBytes.
	MaxFileBytes int64
	// MaxRawBytes bounds the raw text kept in a rejection. 0 means DefaultMaxRawBytes.
	MaxRawBytes int
	// Now is the clock giving the rows' TimeGenerated; nil means time.Now.
	Now func() time.Time
	// Logger receives a line per input read; nil means no logging.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Format == "" {
		o.Format = parse.FormatAuto
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.MaxRawBytes <= 0 {
		o.MaxRawBytes = DefaultMaxRawBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Item is what one line (or one record of a line holding several) gave: a stored row with its events, events
// alone (lines that belong to no stored table), a rejection, or a skip (a line that holds nothing to store, such
// as an empty API page).
type Item struct {
	// Source names the input ("file.log", "batch.zip!receipt.log").
	Source string
	// Line is the 1-based line number in Source.
	Line int
	// Index is the record's position in the line (0 unless a line holds several records).
	Index int
	// Format is the line's format as detected or given.
	Format parse.Format
	// Table and Row are set when the record belongs to a stored table (decoded with Table.Decode).
	Table *schema.Table
	Row   schema.Row
	// Events are the normalized events; a stored row whose table has no mapping has none.
	Events []schema.Event
	// Rejection is set when the line could not be read.
	Rejection *Rejection
	// Skip says why a line that was read holds nothing to store (empty page, STIX object that is no indicator).
	Skip string
}

// Rejection is a rejected line: where it is, why, and its text (truncated).
type Rejection struct {
	Source string
	Line   int
	Reason string
	Detail string
	Raw    string
}

// Quarantined converts the rejection to what the store keeps: the position is "line N", the reason includes
// the detail.
func (r Rejection) Quarantined(tenant string, at time.Time) store.Quarantined {
	reason := r.Reason
	if r.Detail != "" {
		reason += ": " + r.Detail
	}
	return store.Quarantined{Tenant: tenant, Source: r.Source, Position: "line " + strconv.Itoa(r.Line),
		Reason: reason, Raw: r.Raw, Time: at.UTC()}
}

// Stats counts what Run read.
type Stats struct {
	// Bytes is the number of (decompressed) bytes read.
	Bytes int64
	// Lines counts every line, blank ones included.
	Lines int
	// Blank counts empty or whitespace-only lines (ignored).
	Blank int
	// Rows counts records that belong to a stored table.
	Rows int
	// Events counts normalized events.
	Events int
	// Rejected counts rejections; Reasons splits them by reason.
	Rejected int
	Reasons  map[string]int
	// Skipped counts items with nothing to store; Skips splits them by reason.
	Skipped int
	Skips   map[string]int
	// Formats counts lines by format.
	Formats map[parse.Format]int
}

func (s *Stats) add(it Item) {
	switch {
	case it.Rejection != nil:
		s.Rejected++
		s.Reasons[it.Rejection.Reason]++
	case it.Skip != "":
		s.Skipped++
		s.Skips[it.Skip]++
	}
	if it.Row != nil {
		s.Rows++
	}
	s.Events += len(it.Events)
}

// errStop ends Run early when an iterator's consumer stops.
var errStop = errors.New("stop")

// Parse is Run as an iterator: it yields every item, then, if reading failed, one zero Item with the error.
func Parse(ctx context.Context, src io.Reader, name string, opts Options) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		_, err := Run(ctx, src, name, opts, func(it Item) error {
			if !yield(it, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(Item{Source: name}, err)
		}
	}
}

// RunFile opens path and runs it; "-" reads standard input. Zip files are read through their central directory.
func RunFile(ctx context.Context, path string, opts Options, emit func(Item) error) (Stats, error) {
	if path == "-" {
		return Run(ctx, os.Stdin, "-", opts, emit)
	}
	f, err := os.Open(path)
	if err != nil {
		return newStats(), fmt.Errorf("open raw log: %w", err)
	}
	defer f.Close()
	return Run(ctx, f, path, opts, emit)
}

func newStats() Stats {
	return Stats{Reasons: map[string]int{}, Skips: map[string]int{}, Formats: map[parse.Format]int{}}
}

// Run reads src (plain text, gzip or zip, told apart by their first bytes), line by line, and calls emit for
// every item. name is the source name used in items and rejections. Run stops at the first error emit returns, at
// a read error, when ctx is done, or when the input exceeds opts.MaxFileBytes (after emitting a rejection with
// ReasonFileTooLarge; the error wraps ErrFileTooLarge). The stats count what was read until then.
func Run(ctx context.Context, src io.Reader, name string, opts Options, emit func(Item) error) (Stats, error) {
	opts = opts.withDefaults()
	r := &runner{ctx: ctx, opts: opts, emit: emit, stats: newStats()}
	err := r.input(src, name)
	opts.Logger.Debug("raw log read", "source", name, "lines", r.stats.Lines, "rows", r.stats.Rows,
		"events", r.stats.Events, "rejected", r.stats.Rejected, "err", err)
	return r.stats, err
}

type runner struct {
	ctx   context.Context
	opts  Options
	emit  func(Item) error
	stats Stats
	// read counts decompressed bytes across the input (all zip members).
	read int64
	// feeds remembers the threat-intel feed of each source (see feedOf).
	feeds map[string][2]string
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zipMagic  = []byte("PK\x03\x04")
)

func (r *runner) input(src io.Reader, name string) error {
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read %s: gzip: %w", name, err)
		}
		defer zr.Close()
		return r.stream(zr, name)
	case bytes.HasPrefix(head, zipMagic):
		return r.zip(src, br, name)
	}
	return r.stream(br, name)
}

// zip reads every file member of a zip archive. A file (io.ReaderAt with a size) is read in place; any other
// stream is buffered, up to MaxFileBytes.
func (r *runner) zip(src io.Reader, br *bufio.Reader, name string) error {
	var zr *zip.Reader
	var err error
	inPlace := false
	if f, ok := src.(*os.File); ok {
		if st, serr := f.Stat(); serr == nil && st.Mode().IsRegular() {
			inPlace = true
			zr, err = zip.NewReader(f, st.Size())
		}
	}
	if !inPlace {
		data, rerr := io.ReadAll(io.LimitReader(br, r.opts.MaxFileBytes+1))
		if rerr != nil {
			return fmt.Errorf("read %s: %w", name, rerr)
		}
		if int64(len(data)) > r.opts.MaxFileBytes {
			return r.tooLarge(name, 0)
		}
		zr, err = zip.NewReader(bytes.NewReader(data), int64(len(data)))
	}
	if err != nil {
		return fmt.Errorf("read %s: zip: %w", name, err)
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		member := name + "!" + f.Name
		rc, err := f.Open()
		if err != nil {
			if emitErr := r.reject(member, 0, ReasonBadArchive, err.Error(), nil); emitErr != nil {
				return emitErr
			}
			continue
		}
		err = r.stream(bufio.NewReaderSize(rc, 64<<10), member)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) tooLarge(name string, line int) error {
	if err := r.reject(name, line, ReasonFileTooLarge, fmt.Sprintf("more than %d bytes", r.opts.MaxFileBytes), nil); err != nil {
		return err
	}
	r.opts.Logger.Warn("raw log input too large", "source", name, "max_bytes", r.opts.MaxFileBytes)
	return fmt.Errorf("read %s: %w", name, ErrFileTooLarge)
}

// limited counts the bytes read and fails with ErrFileTooLarge past the limit.
type limited struct {
	r   io.Reader
	run *runner
}

func (l *limited) Read(p []byte) (int, error) {
	left := l.run.opts.MaxFileBytes - l.run.read
	if left <= 0 {
		// one byte past the limit tells a file of exactly MaxFileBytes from a larger one
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, ErrFileTooLarge
		}
	}
	if int64(len(p)) > left+1 {
		p = p[:left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > left {
		n = int(max(left, 0))
		l.run.read += int64(n)
		l.run.stats.Bytes += int64(n)
		return n, ErrFileTooLarge
	}
	l.run.read += int64(n)
	l.run.stats.Bytes += int64(n)
	return n, err
}

// stream reads one decompressed input line by line.
func (r *runner) stream(src io.Reader, name string) error {
	maxLine := r.opts.MaxLineBytes
	br := bufio.NewReaderSize(&limited{r: src, run: r}, maxLine+2)
	lineNo := 0
	first := true
	for {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lineNo++
			r.stats.Lines++
			raw := bytes.Clone(line[:min(len(line), r.opts.MaxRawBytes)])
			n := int64(len(line))
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				n += int64(len(line))
			}
			if err != nil && !errors.Is(err, io.EOF) {
				if errors.Is(err, ErrFileTooLarge) {
					return r.tooLarge(name, lineNo)
				}
				return fmt.Errorf("read %s: line %d: %w", name, lineNo, err)
			}
			if emitErr := r.reject(name, lineNo, ReasonLineTooLong, fmt.Sprintf("%d bytes, more than %d", n, maxLine), raw); emitErr != nil {
				return emitErr
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			first = false
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			if errors.Is(err, ErrFileTooLarge) {
				return r.tooLarge(name, lineNo+1)
			}
			return fmt.Errorf("read %s: line %d: %w", name, lineNo+1, err)
		}
		if len(line) > 0 {
			lineNo++
			r.stats.Lines++
			text := bytes.TrimRight(line, "\r\n")
			if first && r.documentStart(text) {
				return r.document(br, text, name, lineNo)
			}
			first = false
			if len(text) > maxLine {
				if emitErr := r.reject(name, lineNo, ReasonLineTooLong, fmt.Sprintf("%d bytes, more than %d", len(text), maxLine), text); emitErr != nil {
					return emitErr
				}
			} else if emitErr := r.line(name, lineNo, text); emitErr != nil {
				return emitErr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// emitItem counts and emits one item.
func (r *runner) emitItem(it Item) error {
	r.stats.add(it)
	return r.emit(it)
}

func (r *runner) reject(source string, line int, reason, detail string, raw []byte) error {
	return r.emitItem(Item{Source: source, Line: line, Rejection: &Rejection{Source: source, Line: line,
		Reason: reason, Detail: detail, Raw: truncate(raw, r.opts.MaxRawBytes)}})
}

// truncate keeps at most n bytes of raw, cut at a rune boundary.
func truncate(raw []byte, n int) string {
	if len(raw) <= n {
		return string(raw)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	return string(raw[:cut]) + "…"
}
