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
	names := make([]string, 0, len(sels))
	for n := range sels {
		names = append(names, n)
	}
	sort.Strings(names)
	p := &condParser{toks: lexCondition(src), sels: sels, names: names, src: src}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		t := p.toks[p.i]
		return nil, fmt.Errorf("unexpected %q at position %d", t.text, t.pos+1)
	}
	return n, nil
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return strings.ToLower(p.toks[p.i].text)
	}
	return ""
}

func (p *condParser) parseOr() (condNode, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.i++
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(e *schema.Event) bool { return l(e) || right(e) }
	}
	return left, nil
}

func (p *condParser) parseAnd() (condNode, error) {
	left, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.i++
		right, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(e *schema.Event) bool { return l(e) && right(e) }
	}
	return left, nil
}

func (p *condParser) parseNot() (condNode, error) {
	if p.peek() == "not" {
		p.i++
		inner, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return func(e *schema.Event) bool { return !inner(e) }, nil
	}
	return p.parsePrimary()
}

func (p *condParser) parsePrimary() (condNode, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("unexpected end of condition")
	}
	t := p.toks[p.i]
	low := strings.ToLower(t.text)
	switch {
	case low == "(":
		p.i++
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing \")\" for \"(\" at position %d", t.pos+1)
		}
		p.i++
		return n, nil
	case low == ")" || low == "and" || low == "or" || low == "of" || low == "them":
		return nil, fmt.Errorf("unexpected %q at position %d", t.text, t.pos+1)
	case (low == "1" || low == "any" || low == "all") && p.i+1 < len(p.toks) && strings.ToLower(p.toks[p.i+1].text) == "of":
		p.i += 2
		if p.i >= len(p.toks) {
			return nil, fmt.Errorf("%q needs a selection pattern or \"them\"", t.text+" of")
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
			return nil, fmt.Errorf("%q matches no selection", target.text)
		}
		if low == "all" {
			return func(e *schema.Event) bool {
				for _, s := range group {
					if !s.match(e) {
						return false
					}
				}
				return true
			}, nil
		}
		return func(e *schema.Event) bool {
			for _, s := range group {
				if s.match(e) {
					return true
				}
			}
			return false
		}, nil
	default:
		s, ok := p.sels[t.text]
		if !ok {
			return nil, fmt.Errorf("unknown selection %q", t.text)
		}
		p.i++
		return s.match, nil
	}
}
