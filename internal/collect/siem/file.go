package siem

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
)

// readBufferSize is the line reader's buffer; lines longer than it are assembled piecewise up to MaxLineBytes.
const readBufferSize = 64 << 10

// maxMalformedRaw caps the raw text kept with a malformed line.
const maxMalformedRaw = 4 << 10

// LineReader reads lines of bounded length from a stream. Memory use is its buffer plus the longest line kept
// (at most max bytes), whatever the size of the stream.
type LineReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// NewLineReader reads lines from r; a line longer than maxLine bytes is cut (see Next).
func NewLineReader(r io.Reader, maxLine int) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, readBufferSize), max: maxLine}
}

// Next returns the next line without its line ending. When the line is longer than the limit, line holds its
// first bytes and tooLong is true; the rest of the line is read and discarded. The returned slice is valid until
// the next call. err is io.EOF after the last line, and any other error of the underlying reader (a truncated
// gzip stream gives io.ErrUnexpectedEOF) as is; an incomplete line before such an error is not returned.
func (lr *LineReader) Next() (line []byte, tooLong bool, err error) {
	lr.buf = lr.buf[:0]
	total := 0
	for {
		frag, err := lr.br.ReadSlice('\n')
		total += len(frag)
		if room := lr.max + 1 - len(lr.buf); room > 0 {
			lr.buf = append(lr.buf, frag[:min(len(frag), room)]...)
		}
		switch {
		case err == nil:
			return lr.finish(total - 1)
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if total == 0 {
				return nil, false, io.EOF
			}
			return lr.finish(total)
		default:
			return nil, false, err
		}
	}
}

// finish returns the assembled line of n content bytes (line ending excluded).
func (lr *LineReader) finish(n int) ([]byte, bool, error) {
	line := lr.buf[:min(len(lr.buf), n)]
	if n > lr.max {
		return line[:lr.max], true, nil
	}
	if k := len(line); k > 0 && line[k-1] == '\r' {
		line = line[:k-1]
	}
	return line, false, nil
}

// classify turns one line into a record, or says why it is not one. Blank lines give neither.
func classify(line []byte, tooLong bool, maxLine int) (rec json.RawMessage, reason string) {
	if tooLong {
		return nil, fmt.Sprintf("line longer than %d bytes", maxLine)
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, ""
	}
	if line[0] != '{' {
		return nil, "not a JSON object"
	}
	if !json.Valid(line) {
		var v json.RawMessage
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, "invalid JSON: " + err.Error()
		}
		return nil, "invalid JSON"
	}
	return bytes.Clone(line), ""
}

func clipRaw(b []byte) string {
	if len(b) > maxMalformedRaw {
		return string(b[:maxMalformedRaw])
	}
	return string(b)
}

// fileJob is one file download with what it needs to publish its chunks.
type fileJob struct {
	typ string
	f   *FileWork
}

// ChunkMsgID is the bus message id of one chunk of a batch file: a hash of tenant, stream, type, file identity,
// chunk size and chunk index. A chunk published again (a retried or resumed file) gets the same id and the bus
// drops the copy. The chunk size is part of it because it decides which lines a chunk holds.
func ChunkMsgID(tenant, stream, typ, fileID string, chunkSize, chunk int) string {
	h := sha256.New()
	for _, s := range []string{tenant, stream, typ, fileID, strconv.Itoa(chunkSize), strconv.Itoa(chunk)} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dayBounds returns the window a day's batches carry: the whole UTC day, both ends inclusive to the second.
func dayBounds(day string) (time.Time, time.Time) {
	d, err := time.Parse(dayLayout, day)
	if err != nil {
		return time.Time{}, time.Time{}
	}
	return d, d.Add(24*time.Hour - time.Second)
}

// fileResult is what one file download yielded.
type fileResult struct {
	lines, rows, malformed, batches, dups int
}

// publishFile streams a downloaded gzip NDJSON body into chunks of at most f.ChunkSize lines, publishing each
// chunk as a Batch and recording it in the work list (onChunk) once the bus has accepted it. Lines of chunks
// already published (f.Chunks) are read and skipped. It returns an error, with the chunks published so far kept,
// when the body cannot be read to its end.
func (c *Collector) publishFile(ctx context.Context, job fileJob, body io.Reader, onChunk func(done int) error) (fileResult, error) {
	var res fileResult
	f := job.f
	zr, err := gzip.NewReader(body)
	if errors.Is(err, io.EOF) {
		return res, nil // an empty object holds no lines
	}
	if err != nil {
		return res, fmt.Errorf("file %s: not gzip: %w", f.Name(), err)
	}
	zr.Multistream(true)
	size := f.ChunkSize
	lr := NewLineReader(zr, c.maxLine)
	skip := f.Chunks * size
	chunk := f.Chunks
	start, end := dayBounds(f.Day)
	var recs []json.RawMessage
	var bad []collect.Malformed
	flush := func(last int) error {
		first := chunk*size + 1
		if len(recs) > 0 || len(bad) > 0 {
			b := collect.Batch{Tenant: c.cfg.Tenant, Stream: c.cfg.Stream, Table: c.table, WindowStart: start, WindowEnd: end,
				PageToken: fmt.Sprintf("%s/%s file %s lines %d-%d", job.typ, f.Day, f.Name(), first, last),
				Page:      chunk + 1, Records: recs, Malformed: bad, Fetched: c.now().UTC()}
			dup, err := c.publish(ctx, b, ChunkMsgID(c.cfg.Tenant, c.cfg.Stream, job.typ, f.ID, size, chunk))
			if err != nil {
				return fmt.Errorf("file %s lines %d-%d: %w", f.Name(), first, last, err)
			}
			res.batches++
			if dup {
				res.dups++
			}
			res.rows += len(recs)
			res.malformed += len(bad)
		}
		chunk++
		recs, bad = recs[:0:0], nil
		return onChunk(chunk)
	}
	lineNo := 0
	for {
		line, tooLong, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("file %s: read after line %d: %w", f.Name(), lineNo, err)
		}
		lineNo++
		if lineNo <= skip {
			continue
		}
		res.lines++
		rec, reason := classify(line, tooLong, c.maxLine)
		switch {
		case rec != nil:
			recs = append(recs, rec)
		case reason != "":
			bad = append(bad, collect.Malformed{
				Position: fmt.Sprintf("%s/%s file %s line %d", job.typ, f.Day, f.Name(), lineNo),
				Reason:   reason, Raw: clipRaw(line)})
		}
		if lineNo%size == 0 {
			if err := flush(lineNo); err != nil {
				return res, err
			}
		}
	}
	if lineNo > chunk*size {
		if err := flush(lineNo); err != nil {
			return res, err
		}
	}
	return res, nil
}

// EncodeBatch serialises a batch like collect.Batch.Encode, but copies the records, which are already valid
// JSON, into the output as they are instead of re-validating and compacting each one: about twice as fast on
// large files. collect.DecodeBatch reads both encodings the same way.
func EncodeBatch(b collect.Batch) ([]byte, error) {
	recs := b.Records
	b.Records = nil
	head, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	// Every string before the records key is escaped, so this unescaped text can only be the key itself.
	const key = `"records":null`
	i := bytes.Index(head, []byte(key))
	if i < 0 || len(recs) == 0 {
		if len(recs) == 0 {
			return head, nil
		}
		b.Records = recs
		return b.Encode()
	}
	size := len(head) + len(recs)
	for _, r := range recs {
		size += len(r)
	}
	out := make([]byte, 0, size)
	out = append(out, head[:i]...)
	out = append(out, `"records":[`...)
	for j, r := range recs {
		if j > 0 {
			out = append(out, ',')
		}
		out = append(out, r...)
	}
	out = append(out, ']')
	return append(out, head[i+len(key):]...), nil
}

// publish puts one batch on the bus under msgID.
func (c *Collector) publish(ctx context.Context, b collect.Batch, msgID string) (bool, error) {
	data, err := EncodeBatch(b)
	if err != nil {
		return false, err
	}
	dup, err := c.cfg.Publisher.Publish(ctx, b.Subject(), msgID, data)
	if err != nil {
		return false, fmt.Errorf("publish: %w", err)
	}
	return dup, nil
}
