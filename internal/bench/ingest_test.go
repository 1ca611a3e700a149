package bench

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castwatch/castwatch/internal/schema"
)

func TestIngestFiguresAreConsistent(t *testing.T) {
	tr := tiny(t)
	for _, tc := range []struct {
		name               string
		rows, files, batch int
	}{
		// More rows than the sample, so copies are stored too; batches that do not divide the rows.
		{"copies and a partial batch", len(tr.SIEM) + 301, 3, 250},
		{"one file, one batch", 120, 1, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Ingest(context.Background(), IngestOptions{Rows: tc.rows, Files: tc.files, Batch: tc.batch,
				Input: Input{Traffic: tr}, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != tc.rows || res.Files != tc.files || res.Batch != tc.batch {
				t.Errorf("result describes %d rows, %d files, batch %d", res.Rows, res.Files, res.Batch)
			}
			for _, r := range []Rate{res.Castwatch, res.Peer} {
				if r.Items != int64(tc.rows) || r.Seconds <= 0 || r.PerSecond <= 0 {
					t.Errorf("%s: %d rows in %g s (%g/s), want %d rows in positive time", r.Name, r.Items, r.Seconds, r.PerSecond, tc.rows)
				}
				if got := float64(r.Items) / r.Seconds; math.Abs(got-r.PerSecond) > 1e-6*got {
					t.Errorf("%s: rate %g, items/seconds %g", r.Name, r.PerSecond, got)
				}
			}
			if want := res.Castwatch.PerSecond / res.Peer.PerSecond; math.Abs(res.Ratio-want) > 1e-9*want {
				t.Errorf("ratio %g, want %g", res.Ratio, want)
			}
			if res.StoredCastwatch != int64(tc.rows) || res.StoredPeer != int64(tc.rows) {
				t.Errorf("stored %d (castwatch) and %d (peer), want %d each", res.StoredCastwatch, res.StoredPeer, tc.rows)
			}
			if len(res.DifferentColumns) > 0 {
				t.Errorf("tables differ in %v", res.DifferentColumns)
			}
			if res.CompressedBytes <= 0 || res.RawBytes <= res.CompressedBytes {
				t.Errorf("files: %d bytes compressed, %d raw", res.CompressedBytes, res.RawBytes)
			}
			st := res.Stages
			if st.DecodeSeconds <= 0 || st.WriteSeconds <= 0 || st.ReadSeconds < 0 ||
				st.DecodeSeconds+st.WriteSeconds > res.Castwatch.Seconds {
				t.Errorf("stages %+v do not fit in %g s", st, res.Castwatch.Seconds)
			}
			if m := res.Memory; m.AllocBytes == 0 || m.Mallocs == 0 || m.SysBytes == 0 ||
				math.Abs(m.AllocPerItem-float64(m.AllocBytes)/float64(tc.rows)) > 1e-6 {
				t.Errorf("memory figures %+v", m)
			}
			if !strings.Contains(res.PeerSQL, "read_json(") || !strings.Contains(res.PeerSQL, schema.SegCg.Name) {
				t.Errorf("peer SQL %q", res.PeerSQL)
			}
		})
	}
}

func TestPeerSQLMatchesDecode(t *testing.T) {
	// Every column is filled, Logtype is derived from type for every known type, key strings are never NULL.
	sql := peerInsertSQL("/data/*.gz", trafficEpoch)
	for _, c := range schema.SegCg.Columns {
		if !strings.Contains(sql, sqlIdent(c.Name)) {
			t.Errorf("column %s missing", c.Name)
		}
	}
	for typ, lt := range schema.SegCgLogtypes {
		if !strings.Contains(sql, "WHEN "+sqlString(typ)+" THEN "+sqlString(lt)) {
			t.Errorf("no Logtype for type %q", typ)
		}
	}
	for _, k := range schema.SegCg.Key[1:] {
		if i := schema.SegCg.ColumnIndex(k); schema.SegCg.Columns[i].Type == schema.String && !strings.Contains(sql, "coalesce("+sqlIdent(k)+", '')") && k != "Logtype" {
			t.Errorf("key column %s may be NULL", k)
		}
	}
}

func TestWorkDirIsFreshAndRemoved(t *testing.T) {
	parent := t.TempDir()
	a, cleanA, err := workDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	b, cleanB, err := workDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || filepath.Dir(a) != parent {
		t.Fatalf("working directories %s and %s in %s", a, b, parent)
	}
	cleanA()
	cleanB()
	left, err := os.ReadDir(parent)
	if err != nil || len(left) != 0 {
		t.Fatalf("left behind %v (%v)", left, err)
	}
}
