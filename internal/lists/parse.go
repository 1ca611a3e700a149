package lists

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxLine is the longest line a list may have.
const maxLine = 64 << 10

// keepInvalid is how many invalid entries a status lists in detail (all are counted).
const keepInvalid = 20

// InvalidEntry is a line of a list source that was skipped, with the reason.
type InvalidEntry struct {
	Line   int    `json:"line"`
	Text   string `json:"text"`
	Reason string `json:"reason"`
}

// parsed is the outcome of reading one source.
type parsed struct {
	invalid      []InvalidEntry // the first keepInvalid
	invalidCount int
}

func (p *parsed) reject(line int, text, reason string) {
	p.invalidCount++
	if len(p.invalid) < keepInvalid {
		p.invalid = append(p.invalid, InvalidEntry{Line: line, Text: text, Reason: reason})
	}
}

// torStructural are the Tor Project's exit list keywords that describe a relay rather than name an address.
var torStructural = []string{"ExitNode", "Published", "LastStatus", "@type"}

// parseInto reads one entry per line into b. Blank lines and comments (# at the start of a line or after a space;
// for IP lists also ;) are ignored; an entry that does not parse is counted with its line number and skipped.
func parseInto(b *builder, r io.Reader) (parsed, error) {
	var p parsed
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		entry, ok := entryOf(b.kind, line)
		if !ok {
			continue
		}
		if !utf8.ValidString(entry) {
			p.reject(n, strings.ToValidUTF8(entry, "?"), "not valid UTF-8")
			continue
		}
		if err := b.add(entry); err != nil {
			p.reject(n, entry, err.Error())
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return p, fmt.Errorf("a line is longer than %d bytes (is this a list file?)", maxLine)
		}
		return p, err
	}
	return p, nil
}

// entryOf returns the entry a line holds, false for a blank, comment or structural line.
func entryOf(kind Kind, line string) (string, bool) {
	line = strings.TrimSpace(cutComment(line, kind))
	if line == "" {
		return "", false
	}
	if kind == KindIP {
		first, rest, _ := strings.Cut(line, " ")
		switch {
		case first == "ExitAddress":
			addr, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
			return addr, true
		case slices.Contains(torStructural, first) && rest != "":
			return "", false
		}
	}
	return line, true
}

// cutComment removes a comment: # at the start or after white space, and for IP lists ; likewise (as in
// published network blocklists: "192.0.2.0/24 ; SBL123").
func cutComment(line string, kind Kind) string {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if (c == '#' || (c == ';' && kind == KindIP)) && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// builder collects normalized entries of one kind.
type builder struct {
	kind     Kind
	prefixes map[netip.Prefix]struct{}
	keys     map[string]struct{}
	phrases  map[string][]string
}

func newBuilder(kind Kind) *builder {
	b := &builder{kind: kind}
	switch kind {
	case KindIP:
		b.prefixes = map[netip.Prefix]struct{}{}
	case KindKeyword:
		b.phrases = map[string][]string{}
	default:
		b.keys = map[string]struct{}{}
	}
	return b
}

// add normalizes and stores one entry, or says why it is not valid.
func (b *builder) add(entry string) error {
	switch b.kind {
	case KindIP:
		p, err := parseIPEntry(entry)
		if err != nil {
			return err
		}
		b.prefixes[p] = struct{}{}
		return nil
	case KindKeyword:
		words := splitWords(entry)
		if len(words) == 0 {
			return errors.New("no letters or digits")
		}
		b.phrases[strings.Join(words, " ")] = words
		return nil
	}
	key, err := normalizers[b.kind](entry)
	if err != nil {
		return err
	}
	b.keys[key] = struct{}{}
	return nil
}

// normalizers turn an entry of a map-based kind into its lookup key.
var normalizers = map[Kind]func(string) (string, error){
	KindCountry:   normalizeCountry,
	KindDomain:    normalizeDomain,
	KindUser:      normalizeUser,
	KindExtension: normalizeExtension,
}

// parseIPEntry reads an address or a CIDR network as a prefix (an address is a full-length prefix).
func parseIPEntry(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or CIDR network")
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP address or CIDR network")
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func normalizeCountry(s string) (string, error) {
	if len(s) != 2 || !isASCIILetter(s[0]) || !isASCIILetter(s[1]) {
		return "", errors.New("not a two-letter ISO 3166-1 country code")
	}
	return strings.ToLower(s), nil
}

func isASCIILetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// normalizeDomain accepts "example.com", "*.example.com", "@example.com" and a trailing dot.
func normalizeDomain(s string) (string, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "*."), "@"), ".")
	s = strings.ToLower(s)
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return "", errors.New("not a domain (needs at least two labels, e.g. example.com)")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.IndexFunc(l, notDomainRune) >= 0 {
			return "", errors.New("not a domain name")
		}
	}
	return s, nil
}

func notDomainRune(r rune) bool {
	return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_')
}

// normalizeUser lower-cases an address or name and folds runs of white space into one space.
func normalizeUser(s string) (string, error) {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", errors.New("contains control characters")
	}
	if len(s) > 320 {
		return "", errors.New("longer than 320 bytes")
	}
	return strings.ToLower(strings.Join(strings.Fields(s), " ")), nil
}

func normalizeExtension(s string) (string, error) {
	s = strings.ToLower(strings.TrimPrefix(s, "."))
	if s == "" || len(s) > 32 || strings.IndexFunc(s, notExtensionRune) >= 0 {
		return "", errors.New("not a file extension (letters, digits, _, + and - only)")
	}
	return s, nil
}

func notExtensionRune(r rune) bool {
	return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '+' || r == '-')
}

// isWordRune reports whether r belongs to a word for keyword matching.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// runeAt decodes the rune at s[i] (ASCII without a call).
func runeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// nextWord finds the next word of s at or after i: its bounds, or start == len(s) when there is none.
func nextWord(s string, i int) (start, end int) {
	for i < len(s) {
		r, size := runeAt(s, i)
		if isWordRune(r) {
			break
		}
		i += size
	}
	start = i
	for i < len(s) {
		r, size := runeAt(s, i)
		if !isWordRune(r) {
			break
		}
		i += size
	}
	return start, i
}

// splitWords returns the lower-cased words of s.
func splitWords(s string) []string {
	var words []string
	for i := 0; ; {
		start, end := nextWord(s, i)
		if start == end {
			return words
		}
		words = append(words, strings.ToLower(s[start:end]))
		i = end
	}
}
