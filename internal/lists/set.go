package lists

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for Options.
const (
	DefaultRefresh  = time.Hour
	DefaultTimeout  = 30 * time.Second
	DefaultMaxBytes = 32 << 20
	// retryAfterError bounds the wait before a failed source is tried again.
	retryAfterError = 5 * time.Minute
)

//go:embed defaults
var defaultFiles embed.FS

// Source is where a list's entries come from: a file or an http(s) URL.
type Source struct {
	File string
	URL  string
	// Extend adds the source's entries to the list's built-in default; otherwise they replace it.
	Extend bool
	// Refresh is how often the source is read again; zero means Options.Refresh.
	Refresh time.Duration
}

// String is the source's URL or file path.
func (s Source) String() string {
	if s.URL != "" {
		return s.URL
	}
	return s.File
}

// Options configure a Set. The zero value gives the built-in defaults only.
type Options struct {
	// Sources replaces or extends lists by name (see Names).
	Sources map[string]Source
	// PeerGroups is a CSV file (header user,group) mapping users to peer groups; empty means none.
	PeerGroups string
	// Refresh is the default reload interval (DefaultRefresh when zero).
	Refresh time.Duration
	// Timeout bounds one URL fetch (DefaultTimeout when zero).
	Timeout time.Duration
	// MaxBytes bounds one source's size (DefaultMaxBytes when zero).
	MaxBytes int64
	// Client fetches URLs (http.DefaultClient when nil).
	Client *http.Client
	// Logger reports reload failures and invalid entries (slog.Default() when nil).
	Logger *slog.Logger
}

// ListStatus describes one list (or the peer groups) for the UI and the API.
type ListStatus struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Source is "built-in", "none", the file or URL, or "built-in + <file or URL>" for a list that extends its
	// default.
	Source string `json:"source"`
	// Entries counts distinct valid entries in use.
	Entries int `json:"entries"`
	// Invalid counts the entries of the last read that were skipped; InvalidEntries details the first of them.
	Invalid        int            `json:"invalid"`
	InvalidEntries []InvalidEntry `json:"invalid_entries,omitempty"`
	// LastLoaded is when the source was last read successfully (or confirmed unchanged); zero for a list without a
	// source, which holds its built-in default.
	LastLoaded time.Time `json:"last_loaded"`
	// LastError is the last read's error; the previous content stays in use.
	LastError string `json:"last_error,omitempty"`
	// NextRefresh is when the source is read next; zero for lists without a source.
	NextRefresh time.Time `json:"next_refresh,omitzero"`
}

// KindPeerGroups is the Kind shown in the status of the peer groups source.
const KindPeerGroups Kind = "peer_groups"

// Set holds every list and the peer groups. Lookups are safe for concurrent use with each other and with Load
// and Run, take no locks and do not allocate. A nil Set finds nothing.
type Set struct {
	lists map[string]*list
	feeds []*feed
	peers *PeerGroups
	opts  Options
}

// list is one named list: its built-in default and the content in use.
type list struct {
	kind     Kind
	defaults *builder
	cur      atomic.Pointer[content]
}

// New builds a Set holding the built-in defaults; Load then reads the configured sources.
func New(opts Options) (*Set, error) {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Set{lists: map[string]*list{}, peers: &PeerGroups{}, opts: opts}
	for _, sp := range specs {
		l, err := newList(sp)
		if err != nil {
			return nil, err
		}
		s.lists[sp.name] = l
	}
	var problems []error
	for _, name := range slices.Sorted(maps.Keys(opts.Sources)) {
		src := opts.Sources[name]
		l, ok := s.lists[name]
		if !ok {
			problems = append(problems, fmt.Errorf("lists: %s: unknown list (known: %s)", name, strings.Join(Names(), ", ")))
			continue
		}
		if err := checkSource(src); err != nil {
			problems = append(problems, fmt.Errorf("lists: %s: %w", name, err))
			continue
		}
		s.feeds = append(s.feeds, s.listFeed(name, l, src))
	}
	if opts.PeerGroups != "" {
		s.feeds = append(s.feeds, s.peerFeed(opts.PeerGroups))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return s, nil
}

// newList compiles a list's built-in default, if it has one.
func newList(sp spec) (*list, error) {
	l := &list{kind: sp.kind}
	b := newBuilder(sp.kind)
	raw, err := defaultFiles.ReadFile("defaults/" + sp.name + ".txt")
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("lists: %s: built-in default: %w", sp.name, err)
	default:
		p, err := parseInto(b, bytes.NewReader(raw))
		if err == nil && p.invalidCount > 0 {
			err = fmt.Errorf("line %d %q: %s", p.invalid[0].Line, p.invalid[0].Text, p.invalid[0].Reason)
		}
		if err != nil {
			return nil, fmt.Errorf("lists: %s: built-in default: %w", sp.name, err)
		}
		l.defaults = b
	}
	l.cur.Store(b.build())
	return l, nil
}

func checkSource(src Source) error {
	switch {
	case src.File != "" && src.URL != "":
		return errors.New("set file or url, not both")
	case src.File == "" && src.URL == "":
		return errors.New("set file or url")
	case src.Refresh < 0:
		return fmt.Errorf("refresh %s must not be negative", src.Refresh)
	case src.URL != "":
		u, err := url.Parse(src.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("url %q: must be an http or https URL", src.URL)
		}
	}
	return nil
}

// listFeed reads a list's source into it.
func (s *Set) listFeed(name string, l *list, src Source) *feed {
	label := src.String()
	if src.Extend && l.defaults != nil {
		label = "built-in + " + label
	}
	f := s.newFeed(name, l.kind, src, label)
	f.apply = func(body []byte) (int, parsed, error) {
		b := newBuilder(l.kind)
		p, err := parseInto(b, bytes.NewReader(body))
		if err != nil {
			return 0, p, err
		}
		if src.Extend && l.defaults != nil {
			b = l.defaults.merge(b)
		}
		c := b.build()
		l.cur.Store(c)
		return c.entries, p, nil
	}
	return f
}

func (s *Set) content(name string, kind Kind) *content {
	if s == nil {
		return nil
	}
	l := s.lists[name]
	if l == nil || l.kind != kind {
		return nil
	}
	return l.cur.Load()
}

// HasIP reports whether ip (IPv4 or IPv6, IPv4-mapped addresses as IPv4) is in the named IP list, as an address
// or inside a network. A name of another kind, an unknown name or an unparsable address gives false.
func (s *Set) HasIP(name, ip string) bool {
	c := s.content(name, KindIP)
	return c != nil && c.hasIP(ip)
}

// HasCountry reports whether the ISO 3166-1 alpha-2 code (any case) is in the named country list.
func (s *Set) HasCountry(name, code string) bool {
	c := s.content(name, KindCountry)
	return c != nil && c.hasKey(code)
}

// HasDomain reports whether domain, or the domain of an e-mail address, is an entry of the named domain list or
// a subdomain of one (any case).
func (s *Set) HasDomain(name, domain string) bool {
	c := s.content(name, KindDomain)
	return c != nil && c.hasDomain(domain)
}

// HasUser reports whether the e-mail address or name is an entry of the named user list (any case, white space
// folded).
func (s *Set) HasUser(name, user string) bool {
	c := s.content(name, KindUser)
	return c != nil && c.hasUser(user)
}

// MatchKeyword returns the first keyword of the named keyword list that text contains as whole words (any case),
// in its listed form (lower case, words separated by one space).
func (s *Set) MatchKeyword(name, text string) (string, bool) {
	c := s.content(name, KindKeyword)
	if c == nil {
		return "", false
	}
	return c.matchKeyword(text)
}

// HasExtension reports whether the file extension (with or without the leading dot, any case) is in the named
// extension list. Pass filepath.Ext of a file name.
func (s *Set) HasExtension(name, ext string) bool {
	c := s.content(name, KindExtension)
	return c != nil && c.hasExtension(ext)
}

// PeerGroups returns the user → peer group mapping (never nil for a Set made by New).
func (s *Set) PeerGroups() *PeerGroups {
	if s == nil {
		return nil
	}
	return s.peers
}

// Status describes every list in Names order, then the peer groups when a file is configured.
func (s *Set) Status() []ListStatus {
	if s == nil {
		return nil
	}
	byName := map[string]*feed{}
	for _, f := range s.feeds {
		byName[f.name] = f
	}
	out := make([]ListStatus, 0, len(specs)+1)
	for _, sp := range specs {
		if f := byName[sp.name]; f != nil {
			out = append(out, f.status())
			continue
		}
		l := s.lists[sp.name]
		st := ListStatus{Name: sp.name, Kind: sp.kind, Source: "none", Entries: l.cur.Load().entries}
		if l.defaults != nil {
			st.Source = "built-in"
		}
		out = append(out, st)
	}
	if f := byName[peerGroupsName]; f != nil {
		out = append(out, f.status())
	}
	return out
}
