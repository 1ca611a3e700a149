package duckdb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// BenchmarkWriteRows measures WriteRows of new Audit_CL rows into a file store, for page-sized and bulk batches,
// with both write strategies. Run: go test -run '^$' -bench WriteRows -benchtime 5x ./internal/store/duckdb/
// (the VALUES strategy takes seconds per 50,000-row batch).
func BenchmarkWriteRows(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{500, 50_000} {
		for _, st := range strategies() {
			b.Run(fmt.Sprintf("%s/%d", st.name, size), func(b *testing.B) {
				d, err := Open(ctx, tempPath(b), Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close()
				d.strategy = st.s
				batches := make([][]schema.Row, b.N)
				for i := range batches {
					batches[i] = synthRows(fmt.Sprintf("tenant-%d", i), size, t0.Add(time.Duration(i)*time.Hour))
				}
				b.ResetTimer()
				for i := range b.N {
					n, err := d.WriteRows(ctx, &schema.Audit, batches[i])
					if err != nil {
						b.Fatal(err)
					}
					if n != size {
						b.Fatalf("%d new rows, want %d", n, size)
					}
				}
				b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
