package detect

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"unicode"

	"github.com/castwatch/castwatch/internal/schema"
)

// condNode is a compiled condition over selections.
type condNode func(e *schema.Event) bool

// condToken is one token of a condition with its byte offset.
type condToken struct {
	text string
	pos  int
}

func lexCondition(s string) []condToken {
	var toks []condToken
	i := 0
	for i < len(s) {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(' || c == ')':
			toks = append(toks, condToken{string(c), i})
			i++
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && s[j] != '(' && s[j] != ')' {
				j++
			}
			toks = append(toks, condToken{s[i:j], i})
			i = j
		}
	}
	return toks
}

// condParser parses Sigma's condition grammar: or < and < not < "1 of"/"all of" < parentheses.
type condParser struct {
	toks  []condToken
	i     int
	sels  map[string]*selection
	names []string
	src   string
}

// compileCondition compiles a condition expression over the named selections.
func compileCondition(src string, sels map[string]*selection) (condNode, error) {
	n, _, err := compileConditionAnchor(src, sels)
	return n, err
}

// compileConditionAnchor compiles a condition and derives its anchor (see anchor).
func compileConditionAnchor(src string, sels map[string]*selection) (condNode, anchor, error) {
	names := make([]string, 0, len(sels))
	for n := range sels {
		names = append(names, n)
	}
	sort.Strings(names)
	p := &condParser{toks: lexCondition(src), sels: sels, names: names, src: src}
	if len(p.toks) == 0 {
		return nil, nil, fmt.Errorf("empty condition")
	}
	n, a, err := p.parseOr()
	if err != nil {
		return nil, nil, err
	}
	if p.i < len(p.toks) {
		t := p.toks[p.i]
		return nil, nil, fmt.Errorf("unexpected %q at position %d", t.text, t.pos+1)
	}
	return n, a, nil
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return strings.ToLower(p.toks[p.i].text)
	}
	return ""
}

func (p *condParser) parseOr() (condNode, anchor, error) {
	left, la, err := p.parseAnd()
	if err != nil {
		return nil, nil, err
	}
	for p.peek() == "or" {
		p.i++
		right, ra, err := p.parseAnd()
		if err != nil {
			return nil, nil, err
		}
		l := left
		left = func(e *schema.Event) bool { return l(e) || right(e) }
		la = anchorOr(la, ra)
	}
	return left, la, nil
}

func (p *condParser) parseAnd() (condNode, anchor, error) {
	left, la, err := p.parseNot()
	if err != nil {
		return nil, nil, err
	}
	for p.peek() == "and" {
		p.i++
		right, ra, err := p.parseNot()
		if err != nil {
			return nil, nil, err
		}
		l := left
		left = func(e *schema.Event) bool { return l(e) && right(e) }
		switch {
		case la == nil:
			la = ra
		case ra != nil:
			la = anchorAnd(la, ra)
		}
	}
	return left, la, nil
}

func (p *condParser) parseNot() (condNode, anchor, error) {
	if p.peek() == "not" {
		p.i++
		inner, _, err := p.parseNot()
		if err != nil {
			return nil, nil, err
		}
		return func(e *schema.Event) bool { return !inner(e) }, nil, nil
	}
	return p.parsePrimary()
}

func (p *condParser) parsePrimary() (condNode, anchor, error) {
	if p.i >= len(p.toks) {
		return nil, nil, fmt.Errorf("unexpected end of condition")
	}
	t := p.toks[p.i]
	low := strings.ToLower(t.text)
	switch {
	case low == "(":
		p.i++
		n, a, err := p.parseOr()
		if err != nil {
			return nil, nil, err
		}
		if p.peek() != ")" {
			return nil, nil, fmt.Errorf("missing \")\" for \"(\" at position %d", t.pos+1)
		}
		p.i++
		return n, a, nil
	case low == ")" || low == "and" || low == "or" || low == "of" || low == "them":
		return nil, nil, fmt.Errorf("unexpected %q at position %d", t.text, t.pos+1)
	case (low == "1" || low == "any" || low == "all") && p.i+1 < len(p.toks) && strings.ToLower(p.toks[p.i+1].text) == "of":
		p.i += 2
		if p.i >= len(p.toks) {
			return nil, nil, fmt.Errorf("%q needs a selection pattern or \"them\"", t.text+" of")
		}
		target := p.toks[p.i]
		p.i++
		var group []*selection
		if strings.ToLower(target.text) == "them" {
			for _, n := range p.names {
				if !strings.HasPrefix(n, "_") {
					group = append(group, p.sels[n])
				}
			}
		} else {
			for _, n := range p.names {
				if ok, _ := path.Match(target.text, n); ok {
					group = append(group, p.sels[n])
				}
			}
		}
		if len(group) == 0 {
			return nil, nil, fmt.Errorf("%q matches no selection", target.text)
		}
		var ga anchor
		for i, s := range group {
			sa := selectionAnchor(s)
			switch {
			case i == 0:
				ga = sa
			case low == "all" && ga == nil:
				ga = sa
			case low == "all" && sa != nil:
				ga = anchorAnd(ga, sa)
			case low != "all":
				ga = anchorOr(ga, sa)
			}
		}
		if low == "all" {
			return func(e *schema.Event) bool {
				for _, s := range group {
					if !s.match(e) {
						return false
					}
				}
				return true
			}, ga, nil
		}
		return func(e *schema.Event) bool {
			for _, s := range group {
				if s.match(e) {
					return true
				}
			}
			return false
		}, ga, nil
	default:
		s, ok := p.sels[t.text]
		if !ok {
			return nil, nil, fmt.Errorf("unknown selection %q", t.text)
		}
		p.i++
		return s.match, selectionAnchor(s), nil
	}
}
