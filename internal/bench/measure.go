// Package bench measures castwatch's throughput on generated Mimecast traffic and measures a peer tool on the
// same input in the same run, so that the figures can be read as ratios: the machines that run it are shared and
// noisy, and a ratio to a peer measured alongside moves far less than an absolute rate.
//
// Each benchmark returns a result struct (JSON-ready); the castwatch command only formats it:
//
//   - Ingest: gzip NDJSON SIEM files → Seg_Cg_CL rows in a fresh DuckDB file, castwatch's decoder and store
//     against DuckDB's own read_json, both on one core.
//   - Parse: raw lines → normalized events (rawlog) against jq reading the same file.
//   - Detect: events evaluated per second with the built-in rules and with generated extra rules.
//
// castwatch's part runs with runtime.GOMAXPROCS(1) and DuckDB with threads=1, so every rate is per core.
package bench

import (
	"runtime"
	"time"
)

// Rate is one measured run: how many items were handled in how much wall and CPU time.
type Rate struct {
	// Name says what ran ("castwatch", "duckdb read_json", "jq -c .").
	Name string `json:"name"`
	// Items is how many rows, lines or events were handled.
	Items int64 `json:"items"`
	// Seconds is the wall time.
	Seconds float64 `json:"seconds"`
	// CPUSeconds is the user+system CPU time spent (the whole process for castwatch and DuckDB, the child for
	// jq); 0 where the platform does not report it.
	CPUSeconds float64 `json:"cpu_seconds"`
	// PerSecond is Items / Seconds.
	PerSecond float64 `json:"per_second"`
}

// newRate fills PerSecond.
func newRate(name string, items int64, wall, cpu time.Duration) Rate {
	r := Rate{Name: name, Items: items, Seconds: wall.Seconds(), CPUSeconds: cpu.Seconds()}
	if wall > 0 {
		r.PerSecond = float64(items) / wall.Seconds()
	}
	return r
}

// ratio is a / b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Memory is what the Go runtime reports for one measured run.
type Memory struct {
	// AllocBytes is the heap allocated during the run (runtime.MemStats.TotalAlloc difference).
	AllocBytes uint64 `json:"alloc_bytes"`
	// Mallocs is the number of heap objects allocated during the run.
	Mallocs uint64 `json:"mallocs"`
	// GCs is the number of garbage collections during the run.
	GCs uint32 `json:"gcs"`
	// AllocPerItem is AllocBytes per row, line or event.
	AllocPerItem float64 `json:"alloc_per_item"`
	// HeapInuseBytes and SysBytes are the heap in use and the memory obtained from the OS at the end.
	HeapInuseBytes uint64 `json:"heap_inuse_bytes"`
	SysBytes       uint64 `json:"sys_bytes"`
}

// probe takes wall time, CPU time and Go memory figures at the start of a run.
type probe struct {
	wall time.Time
	cpu  time.Duration
	mem  runtime.MemStats
}

// startProbe starts measuring; it collects garbage first so the run starts from a clean heap.
func startProbe() *probe {
	runtime.GC()
	p := &probe{}
	runtime.ReadMemStats(&p.mem)
	p.cpu = processCPU()
	p.wall = time.Now()
	return p
}

// stop returns the wall time, CPU time and memory figures since start; items is the count for AllocPerItem.
func (p *probe) stop(items int64) (wall, cpu time.Duration, mem Memory) {
	wall = time.Since(p.wall)
	cpu = processCPU() - p.cpu
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	mem = Memory{
		AllocBytes:     m.TotalAlloc - p.mem.TotalAlloc,
		Mallocs:        m.Mallocs - p.mem.Mallocs,
		GCs:            m.NumGC - p.mem.NumGC,
		HeapInuseBytes: m.HeapInuse,
		SysBytes:       m.Sys,
	}
	if items > 0 {
		mem.AllocPerItem = float64(mem.AllocBytes) / float64(items)
	}
	return wall, cpu, mem
}

// oneCore runs fn with GOMAXPROCS(1) and restores the previous setting.
func oneCore(fn func() error) error {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	return fn()
}
