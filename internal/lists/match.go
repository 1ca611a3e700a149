package lists

import (
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// content is the immutable, compiled content of one list. Lookups read it without locks; a reload replaces it.
type content struct {
	entries int
	// IP lists: every network (an address is a full-length one) and the distinct prefix lengths per family,
	// longest first, so a lookup tries one map probe per length.
	prefixes     map[netip.Prefix]struct{}
	lens4, lens6 []int
	// Country, domain, user and extension lists: the normalized keys.
	keys map[string]struct{}
	// Keyword lists: phrases by their first word, longest phrase first.
	byFirst map[string][]phrase
}

// phrase is one keyword: its words, lower case, and its text as returned by a match.
type phrase struct {
	words []string
	text  string
}

// build compiles the builder's entries.
func (b *builder) build() *content {
	c := &content{prefixes: b.prefixes, keys: b.keys}
	switch b.kind {
	case KindIP:
		c.entries = len(b.prefixes)
		for p := range b.prefixes {
			if p.Addr().Is4() {
				c.lens4 = append(c.lens4, p.Bits())
			} else {
				c.lens6 = append(c.lens6, p.Bits())
			}
		}
		c.lens4, c.lens6 = lengths(c.lens4), lengths(c.lens6)
	case KindKeyword:
		c.entries = len(b.phrases)
		c.byFirst = map[string][]phrase{}
		for text, words := range b.phrases {
			c.byFirst[words[0]] = append(c.byFirst[words[0]], phrase{words: words, text: text})
		}
		for _, ps := range c.byFirst {
			slices.SortFunc(ps, func(a, b phrase) int {
				if d := len(b.words) - len(a.words); d != 0 {
					return d
				}
				return strings.Compare(a.text, b.text)
			})
		}
	default:
		c.entries = len(b.keys)
	}
	return c
}

// lengths sorts and de-duplicates prefix lengths, longest first.
func lengths(l []int) []int {
	slices.Sort(l)
	l = slices.Compact(l)
	slices.Reverse(l)
	return l
}

// merge returns a builder holding the entries of both (for lists that extend their built-in default).
func (b *builder) merge(other *builder) *builder {
	m := newBuilder(b.kind)
	for _, src := range []*builder{b, other} {
		for k := range src.prefixes {
			m.prefixes[k] = struct{}{}
		}
		for k := range src.keys {
			m.keys[k] = struct{}{}
		}
		for k, v := range src.phrases {
			m.phrases[k] = v
		}
	}
	return m
}

func (c *content) hasIP(ip string) bool {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	lens := c.lens6
	if addr.Is4() {
		lens = c.lens4
	}
	for _, l := range lens {
		p, err := addr.Prefix(l)
		if err != nil {
			continue
		}
		if _, ok := c.prefixes[p]; ok {
			return true
		}
	}
	return false
}

// keyBuf is the size of the stack buffer lookups lower-case their input into; longer input is lower-cased on
// the heap.
const keyBuf = 256

// lower writes the lower-case form of s into buf and returns it. It allocates only when s is longer than buf or
// its lower-case form is.
func lower(buf []byte, s string) []byte {
	b := buf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, unicode.ToLower(r))
		i += size
	}
	return b
}

func (c *content) hasKey(s string) bool {
	var buf [keyBuf]byte
	_, ok := c.keys[string(lower(buf[:], strings.TrimSpace(s)))]
	return ok
}

// hasUser matches a whole address or name; runs of white space inside count as one space.
func (c *content) hasUser(s string) bool {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "  ") || strings.ContainsAny(s, "\t\n\r") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return c.hasKey(s)
}

// hasDomain matches a domain (or the domain of an e-mail address) against the entries and their subdomains.
func (c *content) hasDomain(s string) bool {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSuffix(s, ".")
	var buf [keyBuf]byte
	d := lower(buf[:], s)
	for len(d) > 0 {
		if _, ok := c.keys[string(d)]; ok {
			return true
		}
		i := slices.Index(d, '.')
		if i < 0 {
			return false
		}
		d = d[i+1:]
	}
	return false
}

func (c *content) hasExtension(s string) bool {
	return c.hasKey(strings.TrimPrefix(strings.TrimSpace(s), "."))
}

// matchKeyword returns the first keyword found as whole words in text (the longest one where several start at
// the same word).
func (c *content) matchKeyword(text string) (string, bool) {
	var buf [keyBuf]byte
	for i := 0; ; {
		start, end := nextWord(text, i)
		if start == end {
			return "", false
		}
		for _, p := range c.byFirst[string(lower(buf[:], text[start:end]))] {
			if followedBy(text, end, p.words[1:]) {
				return p.text, true
			}
		}
		i = end
	}
}

// followedBy reports whether the words of text after position i are words (case-insensitively).
func followedBy(text string, i int, words []string) bool {
	for _, w := range words {
		start, end := nextWord(text, i)
		if start == end || !strings.EqualFold(text[start:end], w) {
			return false
		}
		i = end
	}
	return true
}
