package detect

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/castwatch/castwatch/internal/schema"
)

// modifiers lists every value modifier a field key may carry ("field|contains|all").
var modifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true, "cased": true,
	"re": true, "i": true, "m": true, "s": true,
	"exists": true, "cidr": true, "gt": true, "gte": true, "lt": true, "lte": true,
}

// exclusive modifiers decide how a value is compared; at most one may be given per field key.
var exclusive = []string{"contains", "startswith", "endswith", "re", "exists", "cidr", "gt", "gte", "lt", "lte"}

// selection is one named search identifier: an OR of AND-ed field matches.
type selection struct {
	alternatives [][]*fieldMatch
}

func (s *selection) match(e *schema.Event) bool {
	for _, alt := range s.alternatives {
		ok := true
		for _, fm := range alt {
			if !fm.match(e) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// fieldMatch tests one field against one or more values under a set of modifiers.
type fieldMatch struct {
	f *field
	// exists is +1 for "|exists: true", -1 for "|exists: false", 0 otherwise.
	exists int
	// all requires every value to match instead of any.
	all bool
	// null is set when a value is null or the empty string: it matches an absent or empty field.
	null bool
	strs []func(string) bool
	nums []func(float64) bool
	// eq holds the values when the match is plain equality on literal values (no modifier but cased, no
	// wildcard, no null, not all): the event's field must equal one of them. The engine indexes rules on it.
	eq []string
}

func (m *fieldMatch) match(e *schema.Event) bool {
	if m.exists != 0 {
		var buf [4]string
		present := len(m.f.values(e, buf[:0])) > 0
		return present == (m.exists > 0)
	}
	if len(m.nums) > 0 {
		var buf [4]float64
		vals := m.f.numbers(e, buf[:0])
		return matchAll(m.all, len(m.nums), func(i int) bool {
			for _, v := range vals {
				if m.nums[i](v) {
					return true
				}
			}
			return false
		})
	}
	var buf [4]string
	vals := m.f.values(e, buf[:0])
	if len(vals) == 0 {
		return m.null
	}
	return matchAll(m.all, len(m.strs), func(i int) bool {
		for _, v := range vals {
			if m.strs[i](v) {
				return true
			}
		}
		return false
	})
}

// matchAll reports whether any (or, with all, every) of n predicates holds.
func matchAll(all bool, n int, pred func(int) bool) bool {
	for i := 0; i < n; i++ {
		if pred(i) {
			if !all {
				return true
			}
		} else if all {
			return false
		}
	}
	return all && n > 0
}

// compileSelection compiles a selection node: a mapping (AND of fields) or a list of mappings (OR).
// Errors name the offending key relative to the selection.
func compileSelection(n *yaml.Node) (*selection, error) {
	return compileSelectionWith(n, lookupField)
}

// compileSelectionWith is compileSelection with a field resolver.
func compileSelectionWith(n *yaml.Node, resolve func(string) (*field, error)) (*selection, error) {
	sel := &selection{}
	switch n.Kind {
	case yaml.MappingNode:
		alt, err := compileFieldMap(n, resolve)
		if err != nil {
			return nil, err
		}
		sel.alternatives = append(sel.alternatives, alt)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, fmt.Errorf("empty selection")
		}
		for i, item := range n.Content {
			if item.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("[%d]: keyword selections are not supported; use a map of field to value", i)
			}
			alt, err := compileFieldMap(item, resolve)
			if err != nil {
				return nil, fmt.Errorf("[%d].%w", i, err)
			}
			sel.alternatives = append(sel.alternatives, alt)
		}
	default:
		return nil, fmt.Errorf("must be a map of field to value or a list of such maps")
	}
	return sel, nil
}

func compileFieldMap(n *yaml.Node, resolve func(string) (*field, error)) ([]*fieldMatch, error) {
	if len(n.Content) == 0 {
		return nil, fmt.Errorf("empty selection")
	}
	var out []*fieldMatch
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		fm, err := compileFieldMatch(key, n.Content[i+1], resolve)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out = append(out, fm)
	}
	return out, nil
}

// patternValue is one value given for a field: its text, and whether it was null.
type patternValue struct {
	text string
	null bool
}

func scalarValues(n *yaml.Node) ([]patternValue, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return []patternValue{{null: true}}, nil
		}
		return []patternValue{{text: n.Value}}, nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, fmt.Errorf("empty value list")
		}
		var out []patternValue
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("values must be scalars")
			}
			if c.Tag == "!!null" {
				out = append(out, patternValue{null: true})
				continue
			}
			out = append(out, patternValue{text: c.Value})
		}
		return out, nil
	default:
		return nil, fmt.Errorf("value must be a scalar or a list of scalars")
	}
}

// compileFieldMatch compiles "field|mod|mod: value(s)".
func compileFieldMatch(key string, vn *yaml.Node, resolve func(string) (*field, error)) (*fieldMatch, error) {
	parts := strings.Split(key, "|")
	f, err := resolve(parts[0])
	if err != nil {
		return nil, err
	}
	mods := map[string]bool{}
	for _, p := range parts[1:] {
		if !modifiers[p] {
			return nil, fmt.Errorf("unknown modifier %q", p)
		}
		mods[p] = true
	}
	var kind string
	for _, x := range exclusive {
		if mods[x] {
			if kind != "" {
				return nil, fmt.Errorf("modifiers %q and %q cannot be combined", kind, x)
			}
			kind = x
		}
	}
	for _, sub := range []string{"i", "m", "s"} {
		if mods[sub] && kind != "re" {
			return nil, fmt.Errorf("modifier %q needs \"re\"", sub)
		}
	}
	vals, err := scalarValues(vn)
	if err != nil {
		return nil, err
	}
	fm := &fieldMatch{f: f, all: mods["all"]}
	cased := mods["cased"]
	if kind == "" && !fm.all {
		for _, v := range vals {
			parts := parseGlob(v.text)
			if v.null || v.text == "" || len(parts) != 1 || parts[0].lit == "" {
				fm.eq = nil
				break
			}
			fm.eq = append(fm.eq, parts[0].lit)
		}
	}
	if kind == "exists" {
		if len(vals) != 1 || (vals[0].text != "true" && vals[0].text != "false") {
			return nil, fmt.Errorf("exists needs true or false")
		}
		if mods["all"] || cased {
			return nil, fmt.Errorf("exists cannot be combined with other modifiers")
		}
		fm.exists = 1
		if vals[0].text == "false" {
			fm.exists = -1
		}
		return fm, nil
	}
	for _, v := range vals {
		if v.null || v.text == "" {
			if kind != "" && kind != "contains" && kind != "startswith" && kind != "endswith" {
				return nil, fmt.Errorf("%s needs a non-empty value", kind)
			}
			if kind == "" {
				fm.null = true
				// An empty value matches an absent field; it never matches a present one.
				fm.strs = append(fm.strs, func(string) bool { return false })
				continue
			}
		}
		switch kind {
		case "gt", "gte", "lt", "lte":
			num, err := strconv.ParseFloat(v.text, 64)
			if err != nil {
				return nil, fmt.Errorf("%s needs a number, got %q", kind, v.text)
			}
			fm.nums = append(fm.nums, numPredicate(kind, num))
		case "cidr":
			p, err := netip.ParsePrefix(v.text)
			if err != nil {
				return nil, fmt.Errorf("cidr: invalid prefix %q", v.text)
			}
			p = p.Masked()
			fm.strs = append(fm.strs, func(s string) bool {
				a, err := netip.ParseAddr(s)
				return err == nil && p.Contains(a.Unmap())
			})
		case "re":
			flags := ""
			for _, sub := range []string{"i", "m", "s"} {
				if mods[sub] {
					flags += sub
				}
			}
			expr := v.text
			if flags != "" {
				expr = "(?" + flags + ")" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("re: %w", err)
			}
			fm.strs = append(fm.strs, re.MatchString)
		default:
			p, err := compilePattern(kind, v.text, cased)
			if err != nil {
				return nil, err
			}
			fm.strs = append(fm.strs, p)
		}
	}
	return fm, nil
}

func numPredicate(op string, n float64) func(float64) bool {
	switch op {
	case "gt":
		return func(v float64) bool { return v > n }
	case "gte":
		return func(v float64) bool { return v >= n }
	case "lt":
		return func(v float64) bool { return v < n }
	default:
		return func(v float64) bool { return v <= n }
	}
}

// globPart is one piece of a Sigma value: literal text or a wildcard.
type globPart struct {
	lit  string
	star bool
	one  bool
}

// parseGlob splits a Sigma value into literals and wildcards. "*" matches any run, "?" one character;
// "\*", "\?" and "\\" are literal; any other backslash is itself.
func parseGlob(v string) []globPart {
	var parts []globPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, globPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && (v[i+1] == '*' || v[i+1] == '?' || v[i+1] == '\\'):
			lit.WriteByte(v[i+1])
			i++
		case c == '*':
			flush()
			parts = append(parts, globPart{star: true})
		case c == '?':
			flush()
			parts = append(parts, globPart{one: true})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return parts
}

// compilePattern builds a string predicate for a plain, contains, startswith or endswith value. Matching is
// case-insensitive unless cased.
func compilePattern(kind, v string, cased bool) (func(string) bool, error) {
	parts := parseGlob(v)
	switch kind {
	case "contains":
		parts = append(append([]globPart{{star: true}}, parts...), globPart{star: true})
	case "startswith":
		parts = append(parts, globPart{star: true})
	case "endswith":
		parts = append([]globPart{{star: true}}, parts...)
	}
	// Collapse runs of stars.
	var norm []globPart
	for _, p := range parts {
		if p.star && len(norm) > 0 && norm[len(norm)-1].star {
			continue
		}
		norm = append(norm, p)
	}
	eq := strings.EqualFold
	if cased {
		eq = func(a, b string) bool { return a == b }
	}
	lead := len(norm) > 0 && norm[0].star
	trail := len(norm) > 1 && norm[len(norm)-1].star
	var lits []string
	simple := true
	for _, p := range norm {
		switch {
		case p.one:
			simple = false
		case !p.star:
			lits = append(lits, p.lit)
		}
	}
	if simple && len(lits) <= 1 {
		lit := ""
		if len(lits) == 1 {
			lit = lits[0]
		}
		switch {
		case len(norm) == 0:
			return func(s string) bool { return s == "" }, nil
		case len(lits) == 0: // "*"
			return func(string) bool { return true }, nil
		case lead && trail:
			if cased {
				return func(s string) bool { return strings.Contains(s, lit) }, nil
			}
			return func(s string) bool { return containsFold(s, lit) }, nil
		case lead:
			return func(s string) bool { return len(s) >= len(lit) && eq(s[len(s)-len(lit):], lit) }, nil
		case trail:
			return func(s string) bool { return len(s) >= len(lit) && eq(s[:len(lit)], lit) }, nil
		default:
			return func(s string) bool { return eq(s, lit) }, nil
		}
	}
	var re strings.Builder
	re.WriteString("(?s")
	if !cased {
		re.WriteString("i")
	}
	re.WriteString(")^")
	for _, p := range norm {
		switch {
		case p.star:
			re.WriteString(".*")
		case p.one:
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(p.lit))
		}
	}
	re.WriteString("$")
	r, err := regexp.Compile(re.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", v, err)
	}
	return r.MatchString, nil
}

// containsFold reports whether sub occurs in s, ignoring case.
func containsFold(s, sub string) bool {
	if len(sub) == 0 {
		return true
	}
	if isASCII(s) && isASCII(sub) {
		n := len(sub)
		for i := 0; i+n <= len(s); i++ {
			if strings.EqualFold(s[i:i+n], sub) {
				return true
			}
		}
		return false
	}
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
