package awareness

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/castwatch/castwatch/internal/collect"
)

// The hash state of one snapshot (one stream, or one campaign of the user-data stream) is a map from the hash of a
// row's natural key to the hash of its content, both 64 bits. It is stored in the checkpoint store as compact
// binary values of 16 bytes per row: 10,000 users take 160 KB. A state larger than maxShardEntries rows is split
// over several values by key hash, each below NATS's default 1 MiB payload limit, so 100,000 users (1.6 MB)
// still fit an external cluster with default settings.
//
// Value layout (big endian): magic "cwh1" | generation u64 | saved unix nanoseconds i64 | shard u16 | shards u16 |
// count u32 | count × (key hash u64, content hash u64), sorted by key hash.
//
// Shards are written highest first and shard 0 last: shard 0 commits a generation. A shard whose generation is not
// shard 0's (a save interrupted part-way) is ignored when loading, so its rows are taken as unknown and published
// again — harmless, because the store keeps the latest row per key of a snapshot table. Rows are never taken as
// known when they were not acknowledged, so a change is never lost.

const (
	stateMagic      = "cwh1"
	stateHeaderSize = 4 + 8 + 8 + 2 + 2 + 4
	stateEntrySize  = 16
	// maxShardEntries keeps one value at 512 KiB.
	maxShardEntries = 32768
)

// hashState is the loaded state of one snapshot.
type hashState struct {
	gen     uint64
	saved   time.Time
	entries map[uint64]uint64
}

// stateKey is the checkpoint-store key of shard i of the state stored under base.
func stateKey(base string, i int) string { return base + "." + strconv.Itoa(i) }

// encodeShard serialises the entries of one shard.
func encodeShard(gen uint64, saved time.Time, shard, shards int, keys []uint64, entries map[uint64]uint64) []byte {
	buf := make([]byte, stateHeaderSize, stateHeaderSize+len(keys)*stateEntrySize)
	copy(buf, stateMagic)
	binary.BigEndian.PutUint64(buf[4:], gen)
	binary.BigEndian.PutUint64(buf[12:], uint64(saved.UnixNano()))
	binary.BigEndian.PutUint16(buf[20:], uint16(shard))
	binary.BigEndian.PutUint16(buf[22:], uint16(shards))
	binary.BigEndian.PutUint32(buf[24:], uint32(len(keys)))
	for _, k := range keys {
		buf = binary.BigEndian.AppendUint64(buf, k)
		buf = binary.BigEndian.AppendUint64(buf, entries[k])
	}
	return buf
}

// shardHeader is the decoded header of one stored value.
type shardHeader struct {
	gen    uint64
	saved  time.Time
	shard  int
	shards int
	count  int
}

// decodeShard checks one stored value and adds its entries to into.
func decodeShard(b []byte, into map[uint64]uint64) (shardHeader, error) {
	if len(b) < stateHeaderSize || string(b[:4]) != stateMagic {
		return shardHeader{}, errors.New("not a hash state value")
	}
	h := shardHeader{
		gen:    binary.BigEndian.Uint64(b[4:]),
		saved:  time.Unix(0, int64(binary.BigEndian.Uint64(b[12:]))).UTC(),
		shard:  int(binary.BigEndian.Uint16(b[20:])),
		shards: int(binary.BigEndian.Uint16(b[22:])),
		count:  int(binary.BigEndian.Uint32(b[24:])),
	}
	if h.shards == 0 || h.shard >= h.shards || len(b) != stateHeaderSize+h.count*stateEntrySize {
		return shardHeader{}, fmt.Errorf("hash state value is truncated or inconsistent (%d bytes, %d rows)", len(b), h.count)
	}
	if into != nil {
		for off := stateHeaderSize; off < len(b); off += stateEntrySize {
			into[binary.BigEndian.Uint64(b[off:])] = binary.BigEndian.Uint64(b[off+8:])
		}
	}
	return h, nil
}

// loadState reads the state stored under base. A missing state is empty; an unreadable one is reported through
// warn and taken as empty (every row is then published once more, which the store absorbs). Errors of the store
// itself are returned.
func loadState(ctx context.Context, store collect.CheckpointStore, base string, warn func(msg string, args ...any)) (hashState, error) {
	st := hashState{entries: map[uint64]uint64{}}
	raw, found, err := store.Get(ctx, stateKey(base, 0))
	if err != nil {
		return st, fmt.Errorf("load hash state %s: %w", base, err)
	}
	if !found {
		return st, nil
	}
	head, err := decodeShard(raw, st.entries)
	if err != nil || head.shard != 0 {
		warn("hash state is unreadable; every row will be published again", "key", stateKey(base, 0), "err", err)
		return hashState{entries: map[uint64]uint64{}}, nil
	}
	st.gen, st.saved = head.gen, head.saved
	for i := 1; i < head.shards; i++ {
		raw, found, err := store.Get(ctx, stateKey(base, i))
		if err != nil {
			return st, fmt.Errorf("load hash state %s: %w", base, err)
		}
		if !found {
			warn("hash state shard is missing; its rows will be published again", "key", stateKey(base, i))
			continue
		}
		part := map[uint64]uint64{}
		h, err := decodeShard(raw, part)
		if err != nil || h.gen != head.gen || h.shards != head.shards || h.shard != i {
			warn("hash state shard is from an interrupted save; its rows will be published again", "key", stateKey(base, i), "err", err)
			continue
		}
		for k, v := range part {
			st.entries[k] = v
		}
	}
	return st, nil
}

// saveState stores entries as generation gen under base.
func saveState(ctx context.Context, store collect.CheckpointStore, base string, gen uint64, saved time.Time, entries map[uint64]uint64) error {
	shards := max(1, (len(entries)+maxShardEntries-1)/maxShardEntries)
	if shards > 1<<16-1 {
		return fmt.Errorf("save hash state %s: %d rows exceed the state's capacity", base, len(entries))
	}
	parts := make([][]uint64, shards)
	for k := range entries {
		parts[k%uint64(shards)] = append(parts[k%uint64(shards)], k)
	}
	for i := shards - 1; i >= 0; i-- {
		slices.Sort(parts[i])
		if err := store.Put(ctx, stateKey(base, i), encodeShard(gen, saved, i, shards, parts[i], entries)); err != nil {
			return fmt.Errorf("save hash state %s: %w", base, err)
		}
	}
	return nil
}
