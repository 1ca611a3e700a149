package bench

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/collect/siem"
	"github.com/castwatch/castwatch/internal/ingest"
	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store/duckdb"
)

// benchTenant is the tenant every benchmark row and event belongs to.
const benchTenant = "bench"

// IngestOptions configures Ingest.
type IngestOptions struct {
	// Rows is how many Seg_Cg_CL records the files hold (default 200,000).
	Rows int
	// Files is how many gzip NDJSON files they are spread over (default 4).
	Files int
	// Batch is how many rows go to one WriteRows call (default: what the store consumer writes at once when
	// messages queue up, ingest.MaxMessages SIEM chunks).
	Batch int
	// Dir is where the working directory for the files and databases is made ("" means the system's temporary
	// directory); it is removed afterwards.
	Dir string
	// Input is the traffic the records are drawn from.
	Input
}

func (o IngestOptions) withDefaults() IngestOptions {
	if o.Rows <= 0 {
		o.Rows = 200_000
	}
	if o.Files <= 0 {
		o.Files = 4
	}
	o.Files = min(o.Files, o.Rows)
	if o.Batch <= 0 {
		o.Batch = ingest.MaxMessages * siem.DefaultChunkSize
	}
	return o
}

// IngestResult compares castwatch's SIEM file ingest with DuckDB's read_json on the same files.
type IngestResult struct {
	Rows            int   `json:"rows"`
	Files           int   `json:"files"`
	Batch           int   `json:"batch"`
	CompressedBytes int64 `json:"compressed_bytes"`
	RawBytes        int64 `json:"raw_bytes"`
	// Castwatch streams, decompresses, decodes (schema.SegCg.Decode) and stores (WriteRows) the rows.
	Castwatch Rate `json:"castwatch"`
	// Peer is DuckDB's INSERT … SELECT DISTINCT ON (key) … FROM read_json over the same files into a table of the same
	// shape (same columns and types; castwatch also stores each row's event time and its rollup counts).
	Peer    Rate   `json:"peer"`
	PeerSQL string `json:"peer_sql"`
	// Ratio is castwatch's rate over the peer's (above 1: castwatch is faster).
	Ratio float64 `json:"ratio"`
	// Stages splits castwatch's wall time: reading and decompressing the files, decoding the lines and
	// writing the rows (WriteRows and the final checkpoint).
	Stages IngestStages `json:"stages"`
	// StoredCastwatch and StoredPeer are the rows each side's table holds afterwards.
	StoredCastwatch int64 `json:"stored_castwatch"`
	StoredPeer      int64 `json:"stored_peer"`
	// DifferentColumns lists the columns whose content differs between the two tables (compared by a hash of
	// each column over all rows); empty when both stored the same data.
	DifferentColumns []string `json:"different_columns"`
	// Memory is the Go runtime's figures for castwatch's run.
	Memory Memory `json:"memory"`
}

// IngestStages is where castwatch's ingest time went, in seconds of wall time.
type IngestStages struct {
	ReadSeconds   float64 `json:"read_seconds"`
	DecodeSeconds float64 `json:"decode_seconds"`
	WriteSeconds  float64 `json:"write_seconds"`
}

// Ingest writes opts.Files gzip NDJSON files of Seg_Cg_CL records and loads them into two fresh DuckDB files
// (threads=1): once through castwatch's path on one core — stream-decompress, schema.SegCg.Decode per line,
// WriteRows per batch — and once with DuckDB's read_json. Both end with a checkpoint, so both pay for writing
// the data file.
func Ingest(ctx context.Context, opts IngestOptions) (IngestResult, error) {
	opts = opts.withDefaults()
	res := IngestResult{Rows: opts.Rows, Files: opts.Files, Batch: opts.Batch}
	dir, cleanup, err := workDir(opts.Dir)
	if err != nil {
		return res, err
	}
	defer cleanup()
	dataDir := filepath.Join(dir, "siem")
	files, err := writeIngestInput(ctx, opts, dataDir)
	if err != nil {
		return res, err
	}
	for _, f := range files {
		res.CompressedBytes += f.compressed
		res.RawBytes += f.raw
	}
	ingested := trafficEpoch.Add(time.Hour)

	cw, err := openBenchDB(ctx, filepath.Join(dir, "castwatch.duckdb"))
	if err != nil {
		return res, err
	}
	var rows int64
	err = oneCore(func() error {
		p := startProbe()
		var st stageTimes
		n, err := ingestFiles(ctx, cw, files, opts.Batch, ingested, &st)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := cw.DB().ExecContext(ctx, "CHECKPOINT"); err != nil {
			return fmt.Errorf("ingest: checkpoint: %w", err)
		}
		st.write += time.Since(start)
		wall, cpu, mem := p.stop(n)
		res.Stages = IngestStages{ReadSeconds: (wall - st.decode - st.write).Seconds(),
			DecodeSeconds: st.decode.Seconds(), WriteSeconds: st.write.Seconds()}
		rows = n
		res.Castwatch = newRate("castwatch", n, wall, cpu)
		res.Memory = mem
		return nil
	})
	var cwHashes map[string]string
	if err == nil {
		res.StoredCastwatch, cwHashes, err = fingerprint(ctx, cw)
	}
	if cerr := cw.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return res, err
	}
	if rows != int64(opts.Rows) {
		return res, fmt.Errorf("ingest: castwatch decoded %d rows of %d", rows, opts.Rows)
	}

	peer, err := openBenchDB(ctx, filepath.Join(dir, "peer.duckdb"))
	if err != nil {
		return res, err
	}
	res.PeerSQL = peerInsertSQL(filepath.Join(dataDir, "*.gz"), ingested)
	p := startProbe()
	_, err = peer.DB().ExecContext(ctx, res.PeerSQL)
	if err == nil {
		_, err = peer.DB().ExecContext(ctx, "CHECKPOINT")
	}
	var peerHashes map[string]string
	if err == nil {
		wall, cpu, _ := p.stop(0)
		var n int64
		n, peerHashes, err = fingerprint(ctx, peer)
		res.StoredPeer = n
		res.Peer = newRate("duckdb read_json", n, wall, cpu)
	}
	if cerr := peer.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("ingest: peer: %w", err)
	}
	res.Ratio = ratio(res.Castwatch.PerSecond, res.Peer.PerSecond)
	res.DifferentColumns = []string{}
	for _, c := range schema.SegCg.Columns {
		if cwHashes[c.Name] != peerHashes[c.Name] {
			res.DifferentColumns = append(res.DifferentColumns, c.Name)
		}
	}
	return res, nil
}

// writeIngestInput generates the traffic and writes the SIEM files into dir; the traffic is garbage afterwards.
func writeIngestInput(ctx context.Context, opts IngestOptions, dir string) ([]siemFile, error) {
	traffic, err := opts.traffic(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return writeSIEMFiles(dir, traffic, opts.Rows, opts.Files)
}

// workDir makes a fresh working directory inside parent ("" means the system's temporary directory) and returns
// it with the function that removes it.
func workDir(parent string) (string, func(), error) {
	d, err := os.MkdirTemp(parent, "castwatch-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("bench: working directory: %w", err)
	}
	return d, func() { _ = os.RemoveAll(d) }, nil
}

// openBenchDB opens a fresh store holding only Seg_Cg_CL, with one DuckDB thread.
func openBenchDB(ctx context.Context, path string) (*duckdb.DB, error) {
	db, err := duckdb.Open(ctx, path, duckdb.Options{Threads: 1, Tables: []*schema.Table{&schema.SegCg}})
	if err != nil {
		return nil, fmt.Errorf("bench: open %s: %w", filepath.Base(path), err)
	}
	return db, nil
}

// siemFile is one written gzip NDJSON file.
type siemFile struct {
	path            string
	lines           int
	compressed, raw int64
}

// writeSIEMFiles spreads rows SIEM lines evenly over n gzip files.
func writeSIEMFiles(dir string, t *Traffic, rows, n int) ([]siemFile, error) {
	files := make([]siemFile, n)
	for k := range files {
		lo, hi := k*rows/n, (k+1)*rows/n
		f := siemFile{path: filepath.Join(dir, fmt.Sprintf("cg_%04d.json.gz", k)), lines: hi - lo}
		out, err := os.Create(f.path)
		if err != nil {
			return nil, fmt.Errorf("ingest: write files: %w", err)
		}
		zw := gzip.NewWriter(out)
		for i := lo; i < hi; i++ {
			line := t.SIEMLine(i)
			if _, err := zw.Write(line); err != nil {
				out.Close()
				return nil, fmt.Errorf("ingest: write %s: %w", f.path, err)
			}
			if _, err := zw.Write([]byte{'\n'}); err != nil {
				out.Close()
				return nil, fmt.Errorf("ingest: write %s: %w", f.path, err)
			}
			f.raw += int64(len(line) + 1)
		}
		if err := zw.Close(); err != nil {
			out.Close()
			return nil, fmt.Errorf("ingest: write %s: %w", f.path, err)
		}
		if err := out.Close(); err != nil {
			return nil, fmt.Errorf("ingest: write %s: %w", f.path, err)
		}
		st, err := os.Stat(f.path)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		f.compressed = st.Size()
		files[k] = f
	}
	return files, nil
}

// stageTimes accumulates the time spent decoding and writing.
type stageTimes struct{ decode, write time.Duration }

// ingestFiles is castwatch's path: each file is streamed through gzip and the SIEM collector's line reader,
// each line decoded into a Seg_Cg_CL row, and the rows written batch by batch.
func ingestFiles(ctx context.Context, db *duckdb.DB, files []siemFile, batch int, ingested time.Time, st *stageTimes) (int64, error) {
	t := &schema.SegCg
	rows := make([]schema.Row, 0, batch)
	var total int64
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		start := time.Now()
		n, err := db.WriteRows(ctx, t, rows)
		st.write += time.Since(start)
		if err != nil {
			return err
		}
		if n != len(rows) {
			return fmt.Errorf("ingest: %d of %d rows new", n, len(rows))
		}
		total += int64(n)
		rows = rows[:0]
		return nil
	}
	for _, f := range files {
		if err := ingestFile(ctx, f.path, t, ingested, &st.decode, func(r schema.Row) error {
			rows = append(rows, r)
			if len(rows) == batch {
				return flush()
			}
			return nil
		}); err != nil {
			return total, err
		}
	}
	if err := flush(); err != nil {
		return total, err
	}
	return total, nil
}

// ingestFile decodes the lines of one gzip NDJSON file.
func ingestFile(ctx context.Context, path string, t *schema.Table, ingested time.Time, decode *time.Duration, emit func(schema.Row) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("ingest: %s: %w", filepath.Base(path), err)
	}
	lr := siem.NewLineReader(zr, siem.DefaultMaxLineBytes)
	for n := 1; ; n++ {
		line, tooLong, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ingest: %s line %d: %w", filepath.Base(path), n, err)
		}
		if tooLong {
			return fmt.Errorf("ingest: %s line %d: too long", filepath.Base(path), n)
		}
		if len(line) == 0 {
			continue
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		start := time.Now()
		row, err := t.Decode(benchTenant, line, ingested)
		*decode += time.Since(start)
		if err != nil {
			return fmt.Errorf("ingest: %s line %d: %w", filepath.Base(path), n, err)
		}
		if err := emit(row); err != nil {
			return err
		}
	}
}

// peerInsertSQL is the peer's load into the empty table: one INSERT … SELECT DISTINCT ON (natural key) over
// read_json of every file (a repeated record is stored once, as castwatch stores it), with the columns
// given (no type sampling) and the same derivations castwatch's decoder makes: Logtype from type, offset and
// partition from _offset and _partition, "" for absent key strings.
func peerInsertSQL(glob string, ingested time.Time) string {
	t := &schema.SegCg
	key := map[string]bool{}
	for _, k := range t.Key {
		key[k] = true
	}
	source := func(col string) string {
		switch col {
		case "offset", "partition":
			return "_" + col
		}
		return col
	}
	var cols, exprs, jsonCols []string
	seen := map[string]bool{}
	addJSON := func(field, typ string) {
		if !seen[field] {
			seen[field] = true
			jsonCols = append(jsonCols, fmt.Sprintf("%s: '%s'", sqlString(field), typ))
		}
	}
	addJSON("type", "VARCHAR")
	for _, c := range t.Columns {
		cols = append(cols, sqlIdent(c.Name))
		var e string
		switch c.Name {
		case "tenant":
			e = sqlString(benchTenant)
		case "TimeGenerated":
			e = "TIMESTAMP " + sqlString(ingested.UTC().Format("2006-01-02 15:04:05.999999"))
		case "Logtype":
			var when strings.Builder
			types := make([]string, 0, len(schema.SegCgLogtypes))
			for k := range schema.SegCgLogtypes {
				types = append(types, k)
			}
			slices.Sort(types)
			for _, k := range types {
				fmt.Fprintf(&when, " WHEN %s THEN %s", sqlString(k), sqlString(schema.SegCgLogtypes[k]))
			}
			addJSON("Logtype", "VARCHAR")
			e = fmt.Sprintf(`CASE WHEN coalesce("type", '') = '' THEN "Logtype" ELSE CASE "type"%s ELSE "type" END END`, when.String())
		default:
			typ := "VARCHAR"
			if c.Type == schema.Real {
				typ = "DOUBLE"
			}
			addJSON(source(c.Name), typ)
			e = sqlIdent(source(c.Name))
		}
		if key[c.Name] && c.Type == schema.String && c.Name != "tenant" {
			e = fmt.Sprintf("coalesce(%s, '')", e)
		}
		exprs = append(exprs, e+" AS "+sqlIdent(c.Name))
	}
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = sqlIdent(k)
	}
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT DISTINCT ON (%s) * FROM (SELECT %s FROM read_json(%s, format = 'newline_delimited', columns = {%s}))",
		sqlIdent(t.Name), strings.Join(cols, ", "), strings.Join(keys, ", "), strings.Join(exprs, ", "), sqlString(glob),
		strings.Join(jsonCols, ", "))
}

// fingerprint returns the rows of Seg_Cg_CL and, per column, a hash of its values over all rows.
func fingerprint(ctx context.Context, db *duckdb.DB) (int64, map[string]string, error) {
	t := &schema.SegCg
	parts := []string{"count(*)"}
	for _, c := range t.Columns {
		parts = append(parts, fmt.Sprintf("CAST(coalesce(sum(hash(%s)), 0) AS VARCHAR)", sqlIdent(c.Name)))
	}
	row := db.DB().QueryRowContext(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(parts, ", "), sqlIdent(t.Name)))
	var n int64
	hashes := make([]string, len(t.Columns))
	dest := []any{&n}
	for i := range hashes {
		dest = append(dest, &hashes[i])
	}
	if err := row.Scan(dest...); err != nil {
		return 0, nil, fmt.Errorf("bench: fingerprint: %w", err)
	}
	out := make(map[string]string, len(hashes))
	for i, c := range t.Columns {
		out[c.Name] = hashes[i]
	}
	return n, out, nil
}

// sqlIdent quotes an SQL identifier.
func sqlIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sqlString quotes an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
