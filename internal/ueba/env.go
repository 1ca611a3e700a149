package ueba

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// env is what rule and training conditions see: the event's fields in snake_case and a few context functions.
//
//	in_list(list, value)     value (a string or a list of strings: any of them) is on the named context list
//	keyword(list, text)      text contains a keyword of the named keyword list
//	history(model)           observations the named model holds for this event's scope (0 = no history)
//	personal_recipient()     a recipient at a public mail domain whose local part carries the user's name
//	addresses(text)          the e-mail addresses written in text, lower-cased, in order
//	domain(address)          the domain of an e-mail address, lower-cased ("" when it has none)
//	model_days(model)        days since the named model began learning (0 = not yet), so a "no history" condition
//	                         can wait until the model has had time to learn, as first rules with no_history do
type env struct {
	EventType            string         `expr:"event_type"`
	User                 string         `expr:"user"`
	PeerGroup            string         `expr:"peer_group"`
	Outcome              string         `expr:"outcome"`
	App                  string         `expr:"app"`
	Activity             string         `expr:"activity"`
	Object               string         `expr:"object"`
	SrcIP                string         `expr:"src_ip"`
	Country              string         `expr:"country"`
	Sender               string         `expr:"sender"`
	SenderDomain         string         `expr:"sender_domain"`
	Direction            string         `expr:"direction"`
	Subject              string         `expr:"subject"`
	FailureReason        string         `expr:"failure_reason"`
	Action               string         `expr:"action"`
	Recipients           []string       `expr:"recipients"`
	RecipientDomains     []string       `expr:"recipient_domains"`
	ExternalDomains      []string       `expr:"external_domains"`
	AttachmentNames      []string       `expr:"attachment_names"`
	AttachmentExtensions []string       `expr:"attachment_extensions"`
	Bytes                int64          `expr:"bytes"`
	RecipientCount       int            `expr:"recipient_count"`
	Fields               map[string]any `expr:"fields"`

	// InList takes its list name as any: func(any, any) bool is one of the signatures expr calls without
	// reflection, and in_list is in most conditions.
	InList            func(list, value any) bool   `expr:"in_list"`
	Keyword           func(list, text string) bool `expr:"keyword"`
	History           func(model string) int       `expr:"history"`
	PersonalRecipient func() bool                  `expr:"personal_recipient"`
	Addresses         func(text string) []string   `expr:"addresses"`
	Domain            func(address string) string  `expr:"domain"`
	ModelDays         func(model string) int       `expr:"model_days"`
}

// compileCondition compiles a condition to a boolean program, checking names and types against env.
func compileCondition(src string) (*vm.Program, error) {
	p, err := expr.Compile(src, expr.Env(env{}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", src, err)
	}
	return p, nil
}

// envFor builds the condition environment of an event.
func (e *Engine) envFor(x *ev) *env {
	return &env{
		EventType: x.EventType, User: x.user, PeerGroup: x.peer, Outcome: x.Outcome, App: x.App,
		Activity: x.Activity, Object: x.Object, SrcIP: x.SrcIP, Country: x.country, Sender: strings.ToLower(x.Sender),
		SenderDomain: strings.ToLower(x.SenderDomain), Direction: x.Direction, Subject: x.Subject,
		FailureReason: x.FailureReason, Action: x.Action, Recipients: lowerAll(x.Recipients),
		RecipientDomains: lowerAll(x.RecipientDomains), ExternalDomains: features["external_domains"](x),
		AttachmentNames: x.AttachmentNames, AttachmentExtensions: extensions(x.AttachmentExtensions),
		Bytes: x.Bytes, RecipientCount: len(x.Recipients), Fields: x.Fields,
		InList: func(list, value any) bool {
			name, ok := list.(string)
			return ok && inList(x.ctx, name, value)
		},
		Keyword: func(list, text string) bool {
			_, ok := x.ctx.Keyword(list, text)
			return ok
		},
		History:           func(model string) int { return e.history(model, x) },
		PersonalRecipient: func() bool { return personalRecipient(x) != "" },
		Addresses:         addresses,
		Domain:            func(a string) string { return strings.ToLower(domainOf(strings.TrimSpace(a))) },
		ModelDays:         func(model string) int { return e.modelDays(model, x) },
	}
}

// modelDays is the number of days from the named model's first training day to the event's day.
func (e *Engine) modelDays(model string, x *ev) int {
	start, ok := e.st.ModelStart[model]
	if !ok {
		return 0
	}
	return int(dayOf(x.Time) - start)
}

// addressRe matches an e-mail address inside free text.
var addressRe = regexp.MustCompile(`[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+`)

// addresses returns the e-mail addresses written in text, lower-cased, in order ("a@x to b@y" → [a@x b@y]).
func addresses(text string) []string {
	found := addressRe.FindAllString(text, -1)
	for i, a := range found {
		found[i] = strings.ToLower(a)
	}
	return found
}

// inList matches a string or any string of a list against a context list.
func inList(ctx Context, list string, value any) bool {
	switch v := value.(type) {
	case string:
		return v != "" && ctx.InList(list, v)
	case []string:
		for _, s := range v {
			if s != "" && ctx.InList(list, s) {
				return true
			}
		}
	case []any:
		for _, s := range v {
			if str, ok := s.(string); ok && str != "" && ctx.InList(list, str) {
				return true
			}
		}
	}
	return false
}

// personalRecipient returns a recipient that looks like the sender's own private address: at a public mail
// domain, with a local part that holds the user's name parts (dots, digits, dashes and underscores ignored), e.g.
// priya.sharma@corp.example → priyasharma42@gmail.com.
func personalRecipient(x *ev) string {
	local, _, ok := strings.Cut(x.user, "@")
	if !ok {
		return ""
	}
	name := squash(local)
	if len(name) < 4 {
		return ""
	}
	for _, r := range lowerAll(x.Recipients) {
		rl, rd, ok := strings.Cut(r, "@")
		if !ok || !x.ctx.InList("public_mail_domains", rd) {
			continue
		}
		if strings.Contains(squash(rl), name) {
			return r
		}
	}
	return ""
}

// squash keeps the letters of s.
func squash(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
