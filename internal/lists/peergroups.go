package lists

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
)

// peerGroupsName names the peer groups source in Status.
const peerGroupsName = "peer_groups"

// PeerGroups maps users to peer groups: a file's mapping overrides a base mapping the caller supplies (such as
// each user's department). Safe for concurrent use; a nil PeerGroups knows no user.
type PeerGroups struct {
	base, file atomic.Pointer[map[string]string]
}

// SetBase replaces the base mapping (user → group; users any case). Entries with an empty user or group are
// ignored.
func (p *PeerGroups) SetBase(m map[string]string) {
	norm := make(map[string]string, len(m))
	for u, g := range m {
		u, g = normalizePeerUser(u), strings.TrimSpace(g)
		if u != "" && g != "" {
			norm[u] = g
		}
	}
	p.base.Store(&norm)
}

// Group returns the peer group of user (any case), from the file when it lists the user, else from the base
// mapping; empty when unknown.
func (p *PeerGroups) Group(user string) string {
	if p == nil {
		return ""
	}
	var buf [keyBuf]byte
	key := lower(buf[:], strings.TrimSpace(user))
	for _, m := range []*map[string]string{p.file.Load(), p.base.Load()} {
		if m == nil {
			continue
		}
		if g, ok := (*m)[string(key)]; ok {
			return g
		}
	}
	return ""
}

func normalizePeerUser(u string) string { return strings.ToLower(strings.TrimSpace(u)) }

// parsePeerGroups reads a CSV file with the header user,group (any case, in that order) and one user per row.
// Rows that are not two non-empty fields, and users listed twice, are reported with their line numbers in p and
// skipped. A missing or different header, or broken CSV, is an error.
func parsePeerGroups(r io.Reader, p *parsed) (map[string]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: expected the header user,group")
	}
	if err != nil {
		return nil, csvError(err)
	}
	if len(header) != 2 || !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(header[0], "\uFEFF")), "user") ||
		!strings.EqualFold(strings.TrimSpace(header[1]), "group") {
		line, _ := cr.FieldPos(0)
		return nil, fmt.Errorf("line %d: header is %q, expected user,group", line, strings.Join(header, ","))
	}
	m := map[string]string{}
	firstLine := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		text := strings.Join(rec, ",")
		if len(rec) != 2 {
			p.reject(line, text, fmt.Sprintf("expected 2 fields (user,group), got %d", len(rec)))
			continue
		}
		user, group := normalizePeerUser(rec[0]), strings.TrimSpace(rec[1])
		switch {
		case user == "" || group == "":
			p.reject(line, text, "user and group must not be empty")
		case firstLine[user] != 0:
			p.reject(line, text, fmt.Sprintf("user already listed on line %d", firstLine[user]))
		default:
			m[user], firstLine[user] = group, line
		}
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %w", pe.StartLine, pe.Err)
	}
	return err
}

// peerFeed reads the peer groups file into the Set's PeerGroups.
func (s *Set) peerFeed(path string) *feed {
	f := s.newFeed(peerGroupsName, KindPeerGroups, Source{File: path}, path)
	f.apply = func(body []byte) (int, parsed, error) {
		var p parsed
		m, err := parsePeerGroups(bytes.NewReader(body), &p)
		if err != nil {
			return 0, p, err
		}
		s.peers.file.Store(&m)
		return len(m), p, nil
	}
	return f
}
