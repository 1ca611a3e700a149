package detect

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// anchor is a necessary condition of a rule's detection: for every field named, the event's value (any element
// of a list) must equal one of the values, compared as foldKey does. The engine indexes rules by one anchored
// field, so an event is only tested against the rules whose anchor value it has (detection-design §1.10:
// index rules by exact-value anchors). A nil anchor says nothing (the rule is tested against every event it
// reads).
type anchor map[string]*anchorField

// anchorField is the allowed values of one field, folded.
type anchorField struct {
	f    *field
	vals map[string]bool
}

// foldKey maps s to a key shared by exactly the strings strings.EqualFold treats as equal to it: every rune is
// replaced by the lower case of the smallest rune of its case-folding orbit (for ASCII: lower case).
func foldKey(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return foldSlow(s)
		}
		upper = upper || ('A' <= c && c <= 'Z')
	}
	if upper {
		return strings.ToLower(s)
	}
	return s
}

func foldSlow(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(unicode.ToLower(m))
	}
	return b.String()
}

func (a anchor) clone() anchor {
	out := anchor{}
	for k, v := range a {
		vals := make(map[string]bool, len(v.vals))
		for x := range v.vals {
			vals[x] = true
		}
		out[k] = &anchorField{f: v.f, vals: vals}
	}
	return out
}

// anchorAnd combines the anchors of two conditions that must both hold: every constraint applies; a field
// constrained by both keeps the values allowed by both.
func anchorAnd(l, r anchor) anchor {
	if l == nil {
		return r.clone()
	}
	out := l.clone()
	for k, v := range r {
		if cur, ok := out[k]; ok {
			for x := range cur.vals {
				if !v.vals[x] {
					delete(cur.vals, x)
				}
			}
			continue
		}
		out[k] = &anchorField{f: v.f, vals: map[string]bool{}}
		for x := range v.vals {
			out[k].vals[x] = true
		}
	}
	return out
}

// anchorOr combines the anchors of two alternatives: only a field constrained by both remains, allowing the
// values of either.
func anchorOr(l, r anchor) anchor {
	if l == nil || r == nil {
		return nil
	}
	out := anchor{}
	for k, v := range l {
		w, ok := r[k]
		if !ok {
			continue
		}
		vals := map[string]bool{}
		for x := range v.vals {
			vals[x] = true
		}
		for x := range w.vals {
			vals[x] = true
		}
		out[k] = &anchorField{f: v.f, vals: vals}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// selectionAnchor is the anchor of a selection: the equality fields every alternative constrains.
func selectionAnchor(s *selection) anchor {
	var out anchor
	for i, alt := range s.alternatives {
		a := anchor{}
		for _, fm := range alt {
			if fm.eq == nil {
				continue
			}
			vals := map[string]bool{}
			for _, v := range fm.eq {
				vals[foldKey(v)] = true
			}
			a = anchorAnd(a, anchor{fm.f.name: {f: fm.f, vals: vals}})
		}
		if len(a) == 0 {
			return nil
		}
		if i == 0 {
			out = a
		} else if out = anchorOr(out, a); out == nil {
			return nil
		}
	}
	return out
}

// best picks the field to index a rule by: the one with the fewest allowed values (then by name).
func (a anchor) best() *anchorField {
	names := make([]string, 0, len(a))
	for k := range a {
		names = append(names, k)
	}
	sort.Strings(names)
	var out *anchorField
	for _, k := range names {
		if v := a[k]; out == nil || len(v.vals) < len(out.vals) {
			out = v
		}
	}
	return out
}
