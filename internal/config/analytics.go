package config

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Analytics configures behaviour analytics (internal/ueba): sessions, the notable threshold and rule scores.
type Analytics struct {
	// SessionIdle ends a user session after this long without activity (default 8h).
	SessionIdle Duration `yaml:"session_idle"`
	// SessionMax ends a session this long after it began (default 24h).
	SessionMax Duration `yaml:"session_max"`
	// NotableAt is the session score that makes a user notable (default 90).
	NotableAt int `yaml:"notable_at"`
	// Scores override rules' risk points by rule id (0 to 100; 0 turns a rule's scoring off).
	Scores map[string]int `yaml:"scores"`
}

var ruleIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func defaultAnalytics() Analytics {
	return Analytics{SessionIdle: Duration(8 * time.Hour), SessionMax: Duration(24 * time.Hour), NotableAt: 90}
}

func (a Analytics) validate() []string {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if a.SessionIdle < Duration(time.Minute) {
		add("analytics.session_idle %s: must be at least 1m", time.Duration(a.SessionIdle))
	}
	if a.SessionMax < a.SessionIdle {
		add("analytics.session_max %s: must be at least session_idle (%s)", time.Duration(a.SessionMax), time.Duration(a.SessionIdle))
	}
	if a.NotableAt < 1 {
		add("analytics.notable_at %d: must be at least 1", a.NotableAt)
	}
	ids := make([]string, 0, len(a.Scores))
	for id := range a.Scores {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !ruleIDPattern.MatchString(id) {
			add("analytics.scores: %q is not a rule id", id)
		}
		if p := a.Scores[id]; p < 0 || p > 100 {
			add("analytics.scores.%s %d: must be from 0 to 100", id, p)
		}
	}
	return probs
}
