package siem

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"slices"
	"time"

	"github.com/castwatch/castwatch/internal/bus"
	"github.com/castwatch/castwatch/internal/collect"
)

// dayLayout is the date-only format of the batch listing's dateRangeStartsAt and dateRangeEndsAt.
const dayLayout = "2006-01-02"

// State is the durable work list of one (tenant, stream, type), kept in the checkpoint store under StateKey.
//
// Day is the day being listed and NextPage the @nextPage token to continue listing it with. Files are the batch
// files listed but not yet fully published, each with the number of its chunks already on the bus: a file enters
// the list (and the state is saved) before it is downloaded, and leaves it only after its last chunk is published,
// so a crash or a failed download never loses a listed file. Done holds the identities of recently finished files
// so that a file listed again (a re-list, or the API repeating a URL) is not collected twice.
type State struct {
	// Day is the UTC day being listed, "2006-01-02".
	Day string `json:"day"`
	// NextPage is the @nextPage token to continue listing Day with; empty: from the day's first page.
	NextPage string `json:"next_page,omitempty"`
	// CaughtUp is the last listing's isCaughtUp.
	CaughtUp bool `json:"caught_up"`
	// Files are the listed files not yet fully published, in listing order.
	Files []*FileWork `json:"files,omitempty"`
	// Done are the identity hashes of finished files of the days still worth remembering.
	Done []DoneFile `json:"done,omitempty"`
	// Updated is when the state was saved.
	Updated time.Time `json:"updated"`
}

// FileWork is one listed batch file that is not yet fully published.
type FileWork struct {
	// ID is the file's identity: host and path of its URL, without the query that carries the signature. It names
	// the file across listings and is part of its batches' message ids.
	ID string `json:"id"`
	// URL is the pre-signed download URL from the latest listing.
	URL string `json:"url"`
	// Expiry is when URL stops working (zero when the listing gave none).
	Expiry time.Time `json:"expiry,omitzero"`
	// Size is the gzip object's size in bytes as listed.
	Size int64 `json:"size"`
	// Day is the day the file was listed for.
	Day string `json:"day"`
	// ListToken is the nextPage token of the listing page that held the file (empty: the day's first page), and
	// ListIndex its position in that page's value[]: a re-list for a fresh URL asks for that page again.
	ListToken string `json:"list_token,omitempty"`
	ListIndex int    `json:"list_index"`
	// ChunkSize is the number of lines per batch the file is cut into; fixed when it is first listed so that a
	// resumed file is cut the same way.
	ChunkSize int `json:"chunk_size"`
	// Chunks counts the file's batches already published; a resumed download skips their lines.
	Chunks int `json:"chunks"`
	// Attempts counts failed attempts; LastError is the latest failure.
	Attempts  int    `json:"attempts,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// Name is the file's base name, used in positions and logs.
func (f *FileWork) Name() string { return path.Base(f.ID) }

// DoneFile is a finished file: its identity hash and the day it was listed for.
type DoneFile struct {
	Hash string `json:"h"`
	Day  string `json:"d"`
}

// FileID returns a batch-file URL's identity: scheme, host and path, without query and fragment (where a
// pre-signed URL carries its signature and expiry).
func FileID(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("batch file url %q is not an absolute url", stripQuery(rawURL))
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath(), nil
}

func stripQuery(raw string) string {
	for i := 0; i < len(raw); i++ {
		if raw[i] == '?' || raw[i] == '#' {
			return raw[:i]
		}
	}
	return raw
}

// idHash shortens a file identity for the done set.
func idHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:12])
}

// StateKey is the checkpoint key of one (tenant, stream, type) work list.
func StateKey(tenant, stream, typ string) string {
	return collect.CheckpointKey(tenant, stream) + "." + bus.Token(typ)
}

// LoadState reads a work list; found is false when the type has never run.
func LoadState(ctx context.Context, s collect.CheckpointStore, tenant, stream, typ string) (st State, found bool, err error) {
	key := StateKey(tenant, stream, typ)
	raw, found, err := s.Get(ctx, key)
	if err != nil || !found {
		return State{}, false, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return State{}, false, fmt.Errorf("siem state %s: %w", key, err)
	}
	return st, true, nil
}

// pending returns the work-list entry with the given identity.
func (s *State) pending(id string) *FileWork {
	for _, f := range s.Files {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// isDone reports whether a file with this identity was finished.
func (s *State) isDone(id string) bool {
	h := idHash(id)
	return slices.ContainsFunc(s.Done, func(d DoneFile) bool { return d.Hash == h })
}

// finish moves a file from the work list to the done set.
func (s *State) finish(f *FileWork) {
	s.Files = slices.DeleteFunc(s.Files, func(x *FileWork) bool { return x == f })
	if !s.isDone(f.ID) {
		s.Done = append(s.Done, DoneFile{Hash: idHash(f.ID), Day: f.Day})
	}
}

// pruneDone forgets finished files of days that can no longer be listed again: before the day before Day and
// before the oldest pending file's day.
func (s *State) pruneDone() {
	keep := s.Day
	if d, err := time.Parse(dayLayout, s.Day); err == nil {
		keep = d.AddDate(0, 0, -1).Format(dayLayout)
	}
	for _, f := range s.Files {
		if f.Day < keep {
			keep = f.Day
		}
	}
	s.Done = slices.DeleteFunc(s.Done, func(d DoneFile) bool { return d.Day < keep })
}

// pendingOn reports whether a file of day (or an earlier one) is still in the work list.
func (s *State) pendingOn(day string) bool {
	return slices.ContainsFunc(s.Files, func(f *FileWork) bool { return f.Day <= day })
}
