package duckdb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/castwatch/castwatch/internal/schema"
)

// holdEnv, when set, makes the test binary act as another process that holds the named database file open
// for writing until its stdin closes.
const holdEnv = "CASTWATCH_DUCKDB_TEST_HOLD"

func TestMain(m *testing.M) {
	if path := os.Getenv(holdEnv); path != "" {
		os.Exit(hold(path))
	}
	os.Exit(m.Run())
}

func hold(path string) int {
	d, err := Open(context.Background(), path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hold:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := d.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "hold close:", err)
		return 1
	}
	return 0
}

func TestOpenCreatesAndReopens(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	d, err := Open(ctx, path, Options{Tables: testTables(), Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.WriteRows(ctx, &kitchen, []schema.Row{kitchenRow("t1", "a", t0)})
	if err != nil || n != 1 {
		t.Fatalf("write: n=%d err=%v", n, err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	for round := range 2 {
		d, err = Open(ctx, path, Options{Tables: testTables(), Now: fixedClock})
		if err != nil {
			t.Fatalf("reopen %d: %v", round, err)
		}
		for _, table := range []string{"Audit_CL", "Kitchen_CL", "quarantine", "alerts", "schema_migrations"} {
			if _, err := d.Count(ctx, table); err != nil {
				t.Errorf("reopen %d: table %s: %v", round, table, err)
			}
		}
		if got, _ := d.Count(ctx, "Kitchen_CL"); got != 1 {
			t.Errorf("reopen %d: Kitchen_CL has %d rows, want 1", round, got)
		}
		res, err := d.Query(ctx, "SELECT version, applied FROM schema_migrations ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != SchemaVersion() {
			t.Errorf("reopen %d: %d migration rows, want %d (migrations must apply once)", round, len(res.Rows), SchemaVersion())
		}
		if v, ok := res.Rows[0][1].(time.Time); !ok || !v.Equal(t0) {
			t.Errorf("migration applied time = %v, want %v from the clock", res.Rows[0][1], t0)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenAddsNewColumns(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	narrow := kitchen
	narrow.Columns = kitchen.Columns[:len(kitchen.Columns)-2]
	d, err := Open(ctx, path, Options{Tables: []*schema.Table{&narrow}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(ctx, path, Options{Tables: []*schema.Table{&kitchen}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n, err := d.WriteRows(ctx, &kitchen, []schema.Row{kitchenRow("t", "x", t0)}); err != nil || n != 1 {
		t.Fatalf("write after widening: n=%d err=%v", n, err)
	}
}

func TestOpenRejectsBadTable(t *testing.T) {
	bad := kitchen
	bad.Key = []string{"tenant", "nope"}
	if _, err := Open(context.Background(), "", Options{Tables: []*schema.Table{&bad}}); err == nil {
		t.Fatal("open with a key naming a missing column succeeded")
	}
}

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	if _, err := OpenReadOnly(ctx, ""); err == nil {
		t.Error("read-only open of an in-memory database succeeded")
	}
	path := tempPath(t)
	w, err := Open(ctx, path, Options{Tables: testTables()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteRows(ctx, &kitchen, []schema.Row{kitchenRow("t", "a", t0)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.Count(ctx, "Kitchen_CL"); err != nil || n != 1 {
		t.Errorf("count = %d, %v; want 1", n, err)
	}
	if _, err := r.WriteRows(ctx, &kitchen, []schema.Row{kitchenRow("t", "b", t0)}); err == nil {
		t.Error("write through a read-only store succeeded")
	}
	if res, err := r.Query(ctx, `SELECT id FROM "Kitchen_CL"`); err != nil || len(res.Rows) != 1 || res.Rows[0][0] != "a" {
		t.Errorf("query through a read-only store: %v %v", res, err)
	}
	if _, err := r.DB().ExecContext(ctx, `DELETE FROM "Kitchen_CL"`); err == nil {
		t.Error("delete through a read-only handle succeeded")
	}
}

func TestOpenLockedByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	// Create the file first so the holder and this process agree on its schema.
	d, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if released {
			return
		}
		released = true
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("holder process: %v; stderr: %s", err, stderr.String())
		}
	}
	defer release()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("holder did not get ready: %q %v; stderr: %s", line, err, stderr.String())
	}

	tests := []struct {
		name string
		open func() (*DB, error)
	}{
		{"read-write", func() (*DB, error) { return Open(ctx, path, Options{}) }},
		{"read-only", func() (*DB, error) { return OpenReadOnly(ctx, path) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.open()
			if err == nil {
				_ = d.Close()
				t.Fatal("open succeeded while another process holds the file")
			}
			t.Log(err)
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("error does not wrap ErrLocked: %v", err)
			}
			for _, want := range []string{path, "locked by another process", "castwatch serve"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}

	release()
	d, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("open after the holder exited: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
