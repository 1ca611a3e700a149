package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/castwatch/castwatch/internal/schema"
	"github.com/castwatch/castwatch/internal/store"
)

// memStore is an in-memory Writer that, like the real stores, ignores rows whose natural key it already holds.
type memStore struct {
	mu         sync.Mutex
	rows       map[string]map[string]schema.Row
	writes     map[string]int // how often each key was offered
	quarantine []store.Quarantined
	// failWrites fails that many WriteRows calls (negative: all of them).
	failWrites      int
	failQuarantines int
	// refuse, when set, fails every WriteRows call holding a row whose key contains it.
	refuse string
	// calls counts WriteRows calls.
	calls int
}

func newMemStore() *memStore {
	return &memStore{rows: map[string]map[string]schema.Row{}, writes: map[string]int{}}
}

var errStoreDown = errors.New("store unavailable")

func rowKey(t *schema.Table, r schema.Row) string {
	var k string
	for _, c := range t.Key {
		k += fmt.Sprintf("%v|", r[t.ColumnIndex(c)])
	}
	return k
}

func (m *memStore) WriteRows(ctx context.Context, t *schema.Table, rows []schema.Row) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.refuse != "" {
		for _, r := range rows {
			if strings.Contains(rowKey(t, r), m.refuse) {
				return 0, errors.New("row refused")
			}
		}
	}
	if m.failWrites != 0 {
		if m.failWrites > 0 {
			m.failWrites--
		}
		return 0, errStoreDown
	}
	tab := m.rows[t.Name]
	if tab == nil {
		tab = map[string]schema.Row{}
		m.rows[t.Name] = tab
	}
	n := 0
	for _, r := range rows {
		if len(r) != len(t.Columns) {
			return 0, fmt.Errorf("row has %d values, want %d", len(r), len(t.Columns))
		}
		k := rowKey(t, r)
		m.writes[k]++
		if _, ok := tab[k]; !ok {
			tab[k] = r
			n++
		}
	}
	return n, nil
}

func (m *memStore) Quarantine(ctx context.Context, q []store.Quarantined) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failQuarantines > 0 {
		m.failQuarantines--
		return errStoreDown
	}
	m.quarantine = append(m.quarantine, q...)
	return nil
}

func (m *memStore) count(table string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows[table])
}

func (m *memStore) ids(table string) map[string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]bool{}
	t := schema.TableByName(table)
	for _, r := range m.rows[table] {
		out[r[t.ColumnIndex("id")].(string)] = true
	}
	return out
}

func (m *memStore) quarantined() []store.Quarantined {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.Quarantined(nil), m.quarantine...)
}

func (m *memStore) setFailWrites(n int) {
	m.mu.Lock()
	m.failWrites = n
	m.mu.Unlock()
}
