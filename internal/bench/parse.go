package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/castwatch/castwatch/internal/rawlog"
)

// NoJQ is the peer note when jq is not on PATH.
const NoJQ = "jq not installed"

// ParseOptions configures Parse.
type ParseOptions struct {
	// Lines is how many lines each input file holds (default 100,000).
	Lines int
	// Dir is where the working directory for the input files is made ("" means the system's temporary
	// directory); it is removed afterwards.
	Dir string
	// Input is the traffic the lines are drawn from.
	Input
	// JQ is the jq executable; "" looks "jq" up on PATH.
	JQ string
}

// ParseResult holds one comparison per input kind.
type ParseResult struct {
	Lines int         `json:"lines"`
	Cases []ParseCase `json:"cases"`
}

// ParseCase compares castwatch's line reader (rawlog: detection, decoding, normalization) with jq on one file.
type ParseCase struct {
	// Name is the input kind: "api-json" (API records, one JSON object per line) or "siem-kv" (legacy SIEM
	// key=value lines).
	Name  string `json:"name"`
	Lines int    `json:"lines"`
	Bytes int64  `json:"bytes"`
	// Castwatch counts lines; Rows, Events and Rejected are what rawlog made of them.
	Castwatch       Rate    `json:"castwatch"`
	Rows            int64   `json:"rows"`
	Events          int64   `json:"events"`
	Rejected        int     `json:"rejected"`
	EventsPerSecond float64 `json:"events_per_second"`
	// Peer is jq reading the same file (wall time of the process, output discarded); nil with PeerNote saying
	// why when it could not run.
	Peer        *Rate  `json:"peer,omitempty"`
	PeerCommand string `json:"peer_command"`
	PeerNote    string `json:"peer_note,omitempty"`
	// Ratio is castwatch's lines per second over jq's (above 1: castwatch is faster); 0 without a peer.
	Ratio float64 `json:"ratio"`
	// Memory is the Go runtime's figures for castwatch's run.
	Memory Memory `json:"memory"`
}

// jqKVFilter turns a key=value line into a JSON object, the least work that reads legacy SIEM lines into fields.
const jqKVFilter = `split("|") | map(index("=") as $i | {key: .[:$i], value: .[$i+1:]}) | from_entries`

// Parse writes a file of API JSON lines and a file of legacy SIEM key=value lines and reads each with rawlog on
// one core, then with jq: `jq -c .` for the JSON file, and for the key=value file (which is not JSON) `jq -R -c`
// with a filter that splits each line into an object.
func Parse(ctx context.Context, opts ParseOptions) (ParseResult, error) {
	if opts.Lines <= 0 {
		opts.Lines = 100_000
	}
	res := ParseResult{Lines: opts.Lines}
	dir, cleanup, err := workDir(opts.Dir)
	if err != nil {
		return res, err
	}
	defer cleanup()
	jq := opts.JQ
	if jq == "" {
		jq, _ = exec.LookPath("jq")
	}
	cases, err := writeParseInputs(ctx, opts, dir)
	if err != nil {
		return res, err
	}
	for _, c := range cases {
		path := c.path
		pc := ParseCase{Name: c.name, Lines: opts.Lines, Bytes: c.size, PeerCommand: "jq " + shellJoin(c.jqArgs)}
		if err := parseCastwatch(ctx, path, &pc); err != nil {
			return res, err
		}
		if jq == "" {
			pc.PeerNote = NoJQ
		} else if r, err := runJQ(ctx, jq, c.jqArgs, path); err != nil {
			pc.PeerNote = err.Error()
		} else {
			pc.Peer = &r
			pc.Ratio = ratio(pc.Castwatch.PerSecond, r.PerSecond)
		}
		res.Cases = append(res.Cases, pc)
	}
	return res, nil
}

// parseInput is one written input file and the jq arguments that read it.
type parseInput struct {
	name   string
	path   string
	size   int64
	jqArgs []string
}

// writeParseInputs generates the traffic and writes the input files into dir: API JSON lines, read by jq with
// `jq -c .`, and legacy SIEM key=value lines, which are not JSON, read with `jq -R -c` and a filter that splits
// each line into an object. The traffic is garbage afterwards.
func writeParseInputs(ctx context.Context, opts ParseOptions, dir string) ([]parseInput, error) {
	traffic, err := opts.traffic(ctx)
	if err != nil {
		return nil, err
	}
	var out []parseInput
	for _, c := range []struct {
		name string
		line func(int) []byte
		args []string
	}{
		{"api-json", traffic.APILine, []string{"-c", "."}},
		{"siem-kv", traffic.KVLine, []string{"-R", "-c", jqKVFilter}},
	} {
		in := parseInput{name: c.name, path: filepath.Join(dir, c.name+".log"), jqArgs: c.args}
		if in.size, err = writeLines(in.path, opts.Lines, c.line); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// writeLines writes n lines made by line to path and returns the file size.
func writeLines(path string, n int, line func(int) []byte) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("parse: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var size int64
	for i := range n {
		l := line(i)
		w.Write(l)
		w.WriteByte('\n')
		size += int64(len(l) + 1)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, fmt.Errorf("parse: write %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("parse: write %s: %w", filepath.Base(path), err)
	}
	return size, nil
}

// parseCastwatch reads path with rawlog on one core, as `castwatch parse` does (format detected per line).
func parseCastwatch(ctx context.Context, path string, pc *ParseCase) error {
	ingested := trafficEpoch.Add(time.Hour)
	return oneCore(func() error {
		p := startProbe()
		st, err := rawlog.RunFile(ctx, path, rawlog.Options{Tenant: benchTenant, Now: func() time.Time { return ingested }},
			func(rawlog.Item) error { return nil })
		if err != nil {
			return fmt.Errorf("parse: %s: %w", pc.Name, err)
		}
		wall, cpu, mem := p.stop(int64(st.Lines))
		pc.Castwatch = newRate("castwatch", int64(st.Lines), wall, cpu)
		pc.Rows, pc.Events, pc.Rejected = int64(st.Rows), int64(st.Events), st.Rejected
		pc.EventsPerSecond = float64(st.Events) / wall.Seconds()
		pc.Memory = mem
		return nil
	})
}

// lineCounter counts the lines written to it.
type lineCounter struct{ n int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// runJQ runs jq on path and times it; Items is the number of lines jq wrote, one per record read.
func runJQ(ctx context.Context, jq string, args []string, path string) (Rate, error) {
	cmd := exec.CommandContext(ctx, jq, append(append([]string{}, args...), path)...)
	out := &lineCounter{}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return Rate{}, fmt.Errorf("jq failed: %s", strings.TrimSpace(firstLine(stderr.String())))
		}
		return Rate{}, fmt.Errorf("jq: %w", err)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return newRate("jq", out.n, wall, cpu), nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// shellJoin quotes arguments that need it, for display.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " |\"'$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
