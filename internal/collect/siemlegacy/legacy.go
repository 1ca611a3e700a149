// Package siemlegacy collects the legacy SIEM stream of Mimecast API 1.0: POST /api/audit/get-siem-logs, signed
// with HMAC, one log file per call and the continuation token in the mc-siem-token response header.
//
// Each file (a zip, as compress is always asked for) is spooled to a temporary file, read entry by entry and line
// by line, and its records are converted to the SIEM v2 record shape (see ConvertLine), so legacy data lands in
// Seg_Cg_CL beside the API 2.0 batch data, with the same Logtype mapping. Records are published in batches of at
// most ChunkSize under message ids derived from the file (name and content hash) and the chunk index; the token
// checkpoint advances only after every batch of the file is on the bus. A file served again (after a crash, or
// after a token restart) yields the same ids and the bus drops the copies; records repeated across files are
// stored once by the table's natural key.
//
// Field mapping (legacy key, case-insensitive → SIEM v2 field; done by parse.SIEMv1Record):
//
//	datetime (local offset)        → timestamp (epoch ms, UTC)
//	log type from the keys         → type (receipt, process, delivery, journal, av, spam, internal email
//	                                 protect, impersonation protect, url protect, attachment protect),
//	                                 hence Logtype email_receipt, email_process, …
//	acc                            → accountId (Config.Account when absent)
//	aCode                          → aggregateId (else MsgId, else a record hash)
//	(none in v1)                   → processingId = "v1-" + hash of the record's fields (stable on replay)
//	Act / Dir / Sender / headerFrom→ action / direction / senderEnvelope / senderHeader
//	Rcpt, Recipient                → recipients
//	MsgId / Subject / Route        → messageId / subject / route
//	IP                             → senderIp (destinationIp for delivery); SourceIP → senderIp
//	MsgSize, Size / AttCnt / AttSize / AttNames → emailSize / numberAttachments / totalSizeAttachments / attachments
//	Hld / RejType / RejCode / RejInfo → holdReason / rejectionType / rejectionCode / rejectionInfo
//	Delivered / Attempt / Err / UseTls → delivered / deliveryAttempts / deliveryErrors / tlsUsed
//	TlsVer / Cphr                  → tlsVersion / tlsCipher
//	fileExt / Virus / ScanResultInfo → fileExtension / virusFound / scanResults
//	CustomName / InternalName / ThreatDictionary / Hits → customNameMatch / internalUserName /
//	                                 mimecastThreatDictionary / itemsDetected
//	other keys equal to a Seg_Cg_CL column ignoring case (md5, sha1, sha256, fileName, senderDomain,
//	urlCategory, spamInfo, spamProcessingDetail, newDomain, taggedExternal, …) keep that column's name; the rest are
//	dropped from the row. subtype mirrors action (receipt, process) or delivered (delivery), as in v2.
package siemlegacy

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
	"github.com/castwatch/castwatch/internal/collect/siem"
	"github.com/castwatch/castwatch/internal/mimecast"
	"github.com/castwatch/castwatch/internal/schema"
)

// Stream is the legacy SIEM stream name.
const Stream = "siem_legacy"

// PathSIEMLogs is the API 1.0 function.
const PathSIEMLogs = "/api/audit/get-siem-logs"

// File formats of get-siem-logs.
const (
	FormatKeyValue = "key_value"
	FormatJSON     = "json"
)

// CodeInvalidToken is the error code of a token the API no longer accepts (older than the 7-day retention).
const CodeInvalidToken = "err_audit_siem_invalid_token"

// Defaults applied by New to zero Config fields.
const (
	DefaultChunkSize      = 500
	DefaultMaxFilesPerRun = 1000
	DefaultMaxLineBytes   = 1 << 20
	DefaultMaxFileBytes   = 2 << 30
)

// Config configures a Collector.
type Config struct {
	// Tenant names the Mimecast account.
	Tenant string
	// Client makes the signed calls (an *HTTPClient with a mimecast.HMACSigner, on the v1 regional host).
	Client Client
	// Publisher is the bus; Checkpoints keeps the token.
	Publisher   collect.Publisher
	Checkpoints collect.CheckpointStore
	// Now is the clock; default time.Now.
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *collect.Metrics
	// Progress, when set, is called after every file.
	Progress func(collect.Progress)
	// FileFormat is FormatKeyValue (default) or FormatJSON.
	FileFormat string
	// Account is the accountId given to records without an acc field.
	Account string
	// ChunkSize is the most records one batch holds; default 500.
	ChunkSize int
	// MaxFilesPerRun bounds the files one run fetches; default 1000.
	MaxFilesPerRun int
	// MaxLineBytes is the longest line read; longer lines are malformed. Default 1 MiB.
	MaxLineBytes int
	// MaxFileBytes is the largest file accepted; default 2 GiB.
	MaxFileBytes int64
	// TempDir is where files are spooled; default the system temporary directory.
	TempDir string
}

// Checkpoint is the legacy stream's saved position.
type Checkpoint struct {
	// Token is the mc-siem-token to ask with next; empty: start from the oldest file available.
	Token string `json:"token,omitempty"`
	// Files counts files collected; LastFile names the latest.
	Files    int    `json:"files"`
	LastFile string `json:"last_file,omitempty"`
	// Updated is when the checkpoint was saved.
	Updated time.Time `json:"updated"`
}

// Stats summarises one run: Pages counts files, Rows records published.
type Stats struct {
	collect.Stats
	// Malformed counts inputs that were not records; Restarts token restarts; NoData answers that were empty or
	// not a zip although one was asked for.
	Malformed int
	Restarts  int
	NoData    int
	// CaughtUp is true when the run ended at the isLastToken marker.
	CaughtUp bool
}

// Collector collects one tenant's legacy SIEM stream.
type Collector struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
	key string
}

// New checks cfg and returns a Collector.
func New(cfg Config) (*Collector, error) {
	if cfg.Tenant == "" {
		return nil, errors.New("siem legacy collector: tenant is required")
	}
	if cfg.Client == nil || cfg.Publisher == nil || cfg.Checkpoints == nil {
		return nil, errors.New("siem legacy collector: client, publisher and checkpoint store are required")
	}
	switch cfg.FileFormat {
	case "":
		cfg.FileFormat = FormatKeyValue
	case FormatKeyValue, FormatJSON:
	default:
		return nil, fmt.Errorf("siem legacy collector: file format %q is not %s or %s", cfg.FileFormat, FormatKeyValue, FormatJSON)
	}
	if cfg.ChunkSize < 0 || cfg.MaxFilesPerRun < 0 || cfg.MaxLineBytes < 0 || cfg.MaxFileBytes < 0 {
		return nil, errors.New("siem legacy collector: chunk size, files per run, line and file limits must not be negative")
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.MaxFilesPerRun == 0 {
		cfg.MaxFilesPerRun = DefaultMaxFilesPerRun
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.MaxFileBytes == 0 {
		cfg.MaxFileBytes = DefaultMaxFileBytes
	}
	if cfg.Metrics == nil {
		m, _ := collect.NewMetrics(nil)
		cfg.Metrics = m
	}
	c := &Collector{cfg: cfg, log: cfg.Logger, now: cfg.Now, key: collect.CheckpointKey(cfg.Tenant, Stream)}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("tenant", cfg.Tenant, "stream", Stream)
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Tenant is the collector's tenant.
func (c *Collector) Tenant() string { return c.cfg.Tenant }

// Stream is the collector's stream name.
func (c *Collector) Stream() string { return Stream }

// Run collects (see Collect) and returns the common stats.
func (c *Collector) Run(ctx context.Context) (collect.Stats, error) {
	st, err := c.Collect(ctx)
	return st.Stats, err
}

// request is the get-siem-logs body.
type request struct {
	Data []requestItem `json:"data"`
}

type requestItem struct {
	Type       string `json:"type"`
	FileFormat string `json:"fileFormat"`
	Compress   bool   `json:"compress"`
	Token      string `json:"token,omitempty"`
}

// LoadCheckpoint reads the legacy stream's checkpoint; found is false when it has never run.
func LoadCheckpoint(ctx context.Context, s collect.CheckpointStore, tenant string) (cp Checkpoint, found bool, err error) {
	key := collect.CheckpointKey(tenant, Stream)
	raw, found, err := s.Get(ctx, key)
	if err != nil || !found {
		return Checkpoint{}, false, err
	}
	if err := json.Unmarshal(raw, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("checkpoint %s: %w", key, err)
	}
	return cp, true, nil
}

func (c *Collector) save(ctx context.Context, cp *Checkpoint) error {
	cp.Updated = c.now().UTC()
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	return c.cfg.Checkpoints.Put(ctx, c.key, data)
}

func (c *Collector) runErr(op string, err error) error {
	return &collect.RunError{Tenant: c.cfg.Tenant, Stream: Stream, Op: op, Err: err}
}

// Collect follows the token chain one file per call until the API answers isLastToken (caught up), until
// MaxFilesPerRun, or until something fails. An empty or non-zip answer ends the run without error: the same
// token is asked again next run.
func (c *Collector) Collect(ctx context.Context) (Stats, error) {
	var st Stats
	labels := []string{c.cfg.Tenant, Stream}
	fail := func(err error) (Stats, error) {
		c.cfg.Metrics.Errors.WithLabelValues(labels...).Inc()
		c.log.Error("siem legacy collection failed", "err", err)
		return st, err
	}
	cp, _, err := LoadCheckpoint(ctx, c.cfg.Checkpoints, c.cfg.Tenant)
	if err != nil {
		return fail(c.runErr("checkpoint", err))
	}
	restarted := false
	for files := 0; files < c.cfg.MaxFilesPerRun; {
		if err := ctx.Err(); err != nil {
			return fail(c.runErr("run", err))
		}
		req := request{Data: []requestItem{{Type: "MTA", FileFormat: c.cfg.FileFormat, Compress: true, Token: cp.Token}}}
		header, body, err := c.cfg.Client.PostFile(ctx, PathSIEMLogs, req)
		var ae *mimecast.APIError
		if err != nil && errors.As(err, &ae) && ae.Code == CodeInvalidToken && cp.Token != "" && !restarted {
			// The token is older than the retention: start again from the oldest file still kept. Files seen
			// before come back with the same message ids (dropped by the bus) or rows (ignored by the store).
			restarted = true
			st.Restarts++
			c.log.Warn("siem token refused (older than the retention?); restarting without a token", "err", err)
			cp.Token = ""
			if err := c.save(ctx, &cp); err != nil {
				return fail(c.runErr("checkpoint", err))
			}
			continue
		}
		if err != nil {
			return fail(c.runErr("fetch", err))
		}
		done, err := c.handle(ctx, &cp, header, body, &st)
		body.Close()
		if err != nil {
			return fail(err)
		}
		if done {
			break
		}
		files++
	}
	c.cfg.Metrics.LastSuccess.WithLabelValues(labels...).Set(float64(c.now().Unix()))
	return st, nil
}

// endMarker is the JSON answer that carries no file.
type endMarker struct {
	Meta struct {
		IsLastToken bool `json:"isLastToken"`
	} `json:"meta"`
}

// handle processes one answer; done is true when there is nothing more to fetch now.
func (c *Collector) handle(ctx context.Context, cp *Checkpoint, header http.Header, body io.Reader, st *Stats) (bool, error) {
	if isJSON(header) {
		raw, err := io.ReadAll(io.LimitReader(body, maxJSONBody))
		if err != nil {
			return true, c.runErr("fetch", fmt.Errorf("read end marker: %w", err))
		}
		var m endMarker
		if err := json.Unmarshal(raw, &m); err != nil {
			return true, c.runErr("fetch", fmt.Errorf("json answer is not the end marker: %w", err))
		}
		if !m.Meta.IsLastToken {
			c.log.Warn("json answer without a file and without isLastToken; trying again next run")
			st.NoData++
			return true, nil
		}
		st.CaughtUp = true
		c.log.Debug("siem legacy caught up", "files", cp.Files)
		return true, nil
	}
	name := fileName(header)
	next := header.Get("mc-siem-token")
	spool, err := c.spool(body)
	if spool != nil {
		defer spool.close()
	}
	if err != nil {
		return true, c.runErr("fetch", fmt.Errorf("file %s: %w", name, err))
	}
	zr, err := zip.NewReader(spool.f, spool.size)
	if spool.size == 0 || err != nil {
		// Reported by peers: an empty or non-zip body although compress was asked. Nothing is lost by asking the
		// same token again later.
		c.log.Warn("answer is empty or not a zip although compress was asked; trying again next run",
			"file", name, "bytes", spool.size, "err", err)
		st.NoData++
		return true, nil
	}
	if next == "" {
		return true, c.runErr("fetch", fmt.Errorf("file %s came without an mc-siem-token header: cannot continue after it", name))
	}
	fr, err := c.publishZip(ctx, zr, name, spool.sum)
	st.Rows += fr.rows
	st.Batches += fr.batches
	st.Duplicates += fr.dups
	st.Malformed += fr.malformed
	c.cfg.Metrics.Rows.WithLabelValues(c.cfg.Tenant, Stream).Add(float64(fr.rows))
	if err != nil {
		return true, c.runErr("publish", fmt.Errorf("file %s: %w", name, err))
	}
	cp.Token, cp.LastFile = next, name
	cp.Files++
	if err := c.save(ctx, cp); err != nil {
		return true, c.runErr("checkpoint", err)
	}
	st.Pages++
	c.cfg.Metrics.Pages.WithLabelValues(c.cfg.Tenant, Stream).Inc()
	c.log.Debug("siem legacy file collected", "file", name, "rows", fr.rows, "malformed", fr.malformed)
	if c.cfg.Progress != nil {
		c.cfg.Progress(collect.Progress{Tenant: c.cfg.Tenant, Stream: Stream, Pages: st.Pages, Rows: st.Rows})
	}
	return false, nil
}

// fileName is the file name of Content-Disposition, or "siem-file".
func fileName(h http.Header) string {
	if _, params, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		return path.Base(params["filename"])
	}
	return "siem-file"
}

// spooled is a downloaded file kept on disk.
type spooled struct {
	f    *os.File
	size int64
	sum  string
}

func (s *spooled) close() {
	name := s.f.Name()
	_ = s.f.Close()
	_ = os.Remove(name)
}

// spool copies body to a temporary file (a zip needs random access), hashing it on the way.
func (c *Collector) spool(body io.Reader) (*spooled, error) {
	f, err := os.CreateTemp(c.cfg.TempDir, "castwatch-siem-*.zip")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spooled{f: f}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(body, c.cfg.MaxFileBytes+1))
	s.size = n
	if err != nil {
		return s, fmt.Errorf("download: %w", err)
	}
	if n > c.cfg.MaxFileBytes {
		return s, fmt.Errorf("file larger than %d bytes", c.cfg.MaxFileBytes)
	}
	s.sum = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// chunker collects converted records into batches and publishes them.
type chunker struct {
	c      *Collector
	ctx    context.Context
	name   string
	sum    string
	idx    int
	first  int // 1-based number of the chunk's first item
	n      int
	recs   []json.RawMessage
	bad    []collect.Malformed
	lo, hi time.Time
	res    fileResult
}

type fileResult struct{ rows, malformed, batches, dups int }

func (k *chunker) add(pos string, conv Converted) error {
	k.n++
	if conv.Record != nil {
		k.recs = append(k.recs, conv.Record)
		if !conv.Time.IsZero() {
			if k.lo.IsZero() || conv.Time.Before(k.lo) {
				k.lo = conv.Time
			}
			if conv.Time.After(k.hi) {
				k.hi = conv.Time
			}
		}
	} else {
		k.bad = append(k.bad, collect.Malformed{Position: pos, Reason: conv.Reason, Raw: conv.Raw})
	}
	if len(k.recs)+len(k.bad) >= k.c.cfg.ChunkSize {
		return k.flush()
	}
	return nil
}

func (k *chunker) flush() error {
	if len(k.recs)+len(k.bad) == 0 {
		return nil
	}
	c := k.c
	b := collect.Batch{Tenant: c.cfg.Tenant, Stream: Stream, Table: schema.SegCg.Name, WindowStart: k.lo.UTC(), WindowEnd: k.hi.UTC(),
		PageToken: fmt.Sprintf("file %s items %d-%d", k.name, k.first, k.n), Page: k.idx + 1,
		Records: k.recs, Malformed: k.bad, Fetched: c.now().UTC()}
	data, err := siem.EncodeBatch(b)
	if err != nil {
		return err
	}
	dup, err := c.cfg.Publisher.Publish(k.ctx, b.Subject(), ChunkMsgID(c.cfg.Tenant, k.name, k.sum, c.cfg.ChunkSize, k.idx), data)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	k.res.batches++
	if dup {
		k.res.dups++
	}
	k.res.rows += len(k.recs)
	k.res.malformed += len(k.bad)
	k.idx++
	k.first = k.n + 1
	k.recs, k.bad, k.lo, k.hi = nil, nil, time.Time{}, time.Time{}
	return nil
}

// ChunkMsgID is the bus message id of one chunk of a legacy file: a hash of tenant, stream, file name, file
// content hash, chunk size and chunk index.
func ChunkMsgID(tenant, name, sum string, chunkSize, idx int) string {
	h := sha256.New()
	for _, s := range []string{tenant, Stream, name, sum, strconv.Itoa(chunkSize), strconv.Itoa(idx)} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// publishZip publishes the records of every file in the zip.
func (c *Collector) publishZip(ctx context.Context, zr *zip.Reader, name, sum string) (fileResult, error) {
	k := &chunker{c: c, ctx: ctx, name: name, sum: sum, first: 1}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		entry := path.Base(zf.Name)
		rc, err := zf.Open()
		if err != nil {
			return k.res, fmt.Errorf("zip entry %s: %w", entry, err)
		}
		err = c.publishEntry(k, rc, entry)
		rc.Close()
		if err != nil {
			return k.res, fmt.Errorf("zip entry %s: %w", entry, err)
		}
	}
	if err := k.flush(); err != nil {
		return k.res, err
	}
	return k.res, nil
}

// publishEntry reads one log file of the zip.
func (c *Collector) publishEntry(k *chunker, r io.Reader, entry string) error {
	if c.cfg.FileFormat == FormatJSON {
		return walkJSONFile(r, func(i int, conv Converted) error {
			return k.add(fmt.Sprintf("file %s record %d", entry, i), conv)
		}, c.cfg.Account)
	}
	lr := siem.NewLineReader(r, c.cfg.MaxLineBytes)
	for lineNo := 1; ; lineNo++ {
		line, tooLong, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read after line %d: %w", lineNo-1, err)
		}
		pos := fmt.Sprintf("file %s line %d", entry, lineNo)
		if tooLong {
			if err := k.add(pos, Converted{Reason: fmt.Sprintf("line longer than %d bytes", c.cfg.MaxLineBytes), Raw: clip(string(line))}); err != nil {
				return err
			}
			continue
		}
		convs := ConvertLine(string(line), c.cfg.Account)
		for i, conv := range convs {
			p := pos
			if len(convs) > 1 {
				p = fmt.Sprintf("%s record %d", pos, i+1)
			}
			if err := k.add(p, conv); err != nil {
				return err
			}
		}
	}
}
