package awareness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// memStore is an in-memory checkpoint store that can fail.
type memStore struct {
	m       map[string][]byte
	failPut func(key string) error
}

func (s *memStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := s.m[key]
	return v, ok, nil
}

func (s *memStore) Put(_ context.Context, key string, value []byte) error {
	if s.failPut != nil {
		if err := s.failPut(key); err != nil {
			return err
		}
	}
	s.m[key] = append([]byte(nil), value...)
	return nil
}

func randomEntries(n int, seed uint64) map[uint64]uint64 {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make(map[uint64]uint64, n)
	for len(out) < n {
		out[r.Uint64()] = r.Uint64()
	}
	return out
}

func equalEntries(a, b map[uint64]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	saved := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		rows, shards int
	}{{0, 1}, {1, 1}, {10000, 1}, {maxShardEntries, 1}, {70000, 3}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.rows), func(t *testing.T) {
			s := &memStore{m: map[string][]byte{}}
			entries := randomEntries(tt.rows, uint64(tt.rows))
			if err := saveState(ctx, s, "k", 7, saved, entries); err != nil {
				t.Fatal(err)
			}
			if len(s.m) != tt.shards {
				t.Errorf("%d values stored, want %d", len(s.m), tt.shards)
			}
			for key, v := range s.m {
				// Every value stays below NATS's default 1 MiB payload.
				if len(v) > 1<<20-1024 {
					t.Errorf("%s is %d bytes", key, len(v))
				}
			}
			if tt.rows == 10000 && len(s.m["k.0"]) > 200*1024 {
				t.Errorf("10,000 users take %d bytes", len(s.m["k.0"]))
			}
			got, err := loadState(ctx, s, "k", func(string, ...any) { t.Error("unexpected warning") })
			if err != nil {
				t.Fatal(err)
			}
			if got.gen != 7 || !got.saved.Equal(saved) || !equalEntries(got.entries, entries) {
				t.Errorf("loaded gen %d saved %s, %d entries; want gen 7, %d entries", got.gen, got.saved, len(got.entries), len(entries))
			}
		})
	}
}

func TestStateDamage(t *testing.T) {
	ctx := context.Background()
	saved := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	old := randomEntries(70000, 1)
	newer := randomEntries(70000, 2)
	load := func(t *testing.T, s *memStore) (hashState, []string) {
		t.Helper()
		var warnings []string
		st, err := loadState(ctx, s, "k", func(msg string, _ ...any) { warnings = append(warnings, msg) })
		if err != nil {
			t.Fatal(err)
		}
		return st, warnings
	}
	t.Run("missing", func(t *testing.T) {
		st, w := load(t, &memStore{m: map[string][]byte{}})
		if len(st.entries) != 0 || len(w) != 0 {
			t.Errorf("%d entries, warnings %v", len(st.entries), w)
		}
	})
	t.Run("interrupted save", func(t *testing.T) {
		// Generation 1 fully saved; generation 2 stopped after its highest shard: that shard does not match
		// shard 0 and is ignored, the intact old shards still load.
		s := &memStore{m: map[string][]byte{}}
		if err := saveState(ctx, s, "k", 1, saved, old); err != nil {
			t.Fatal(err)
		}
		s.failPut = func(key string) error {
			if key != "k.2" {
				return fmt.Errorf("crash")
			}
			return nil
		}
		if err := saveState(ctx, s, "k", 2, saved, newer); err == nil || !strings.Contains(err.Error(), "crash") {
			t.Fatalf("err = %v", err)
		}
		st, w := load(t, s)
		if st.gen != 1 || len(w) != 1 {
			t.Fatalf("gen %d, warnings %v", st.gen, w)
		}
		for k, v := range st.entries {
			if old[k] != v {
				t.Fatalf("entry %x = %x is not from generation 1", k, v)
			}
		}
		if len(st.entries) >= len(old) || len(st.entries) < len(old)/2 {
			t.Errorf("%d of %d old entries loaded; want all but one shard", len(st.entries), len(old))
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		for name, v := range map[string][]byte{"garbage": []byte("{}"), "truncated": encodeShard(1, saved, 0, 1, []uint64{1, 2}, map[uint64]uint64{1: 1, 2: 2})[:40]} {
			t.Run(name, func(t *testing.T) {
				st, w := load(t, &memStore{m: map[string][]byte{"k.0": v}})
				if len(st.entries) != 0 || len(w) != 1 {
					t.Errorf("%d entries, warnings %v", len(st.entries), w)
				}
			})
		}
	})
}
