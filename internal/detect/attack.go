package detect

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Navigator layer format written by AttackLayer (ATT&CK Navigator layer format 4.5, enterprise domain).
const (
	layerFormat       = "4.5"
	navigatorVersion  = "5.1.0"
	attackVersion     = "17"
	layerDomain       = "enterprise-attack"
	layerColorLow     = "#ffe766"
	layerColorHigh    = "#ff6666"
	layerColorMissing = "#ffffff"
)

type layerVersions struct {
	Attack    string `json:"attack"`
	Navigator string `json:"navigator"`
	Layer     string `json:"layer"`
}

type layerMetadata struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type layerTechnique struct {
	TechniqueID       string          `json:"techniqueID"`
	Score             int             `json:"score"`
	Comment           string          `json:"comment,omitempty"`
	Enabled           bool            `json:"enabled"`
	ShowSubtechniques bool            `json:"showSubtechniques"`
	Metadata          []layerMetadata `json:"metadata,omitempty"`
}

type layerGradient struct {
	Colors   []string `json:"colors"`
	MinValue int      `json:"minValue"`
	MaxValue int      `json:"maxValue"`
}

type layerLegendItem struct {
	Label string `json:"label"`
	Color string `json:"color"`
}

type layer struct {
	Name                          string            `json:"name"`
	Versions                      layerVersions     `json:"versions"`
	Domain                        string            `json:"domain"`
	Description                   string            `json:"description"`
	Sorting                       int               `json:"sorting"`
	HideDisabled                  bool              `json:"hideDisabled"`
	Techniques                    []layerTechnique  `json:"techniques"`
	Gradient                      layerGradient     `json:"gradient"`
	LegendItems                   []layerLegendItem `json:"legendItems"`
	ShowTacticRowBackground       bool              `json:"showTacticRowBackground"`
	SelectTechniquesAcrossTactics bool              `json:"selectTechniquesAcrossTactics"`
	SelectSubtechniquesWithParent bool              `json:"selectSubtechniquesWithParent"`
}

// validEnterpriseTechnique checks an ATT&CK Enterprise technique id: T1000–T1999, optionally with a
// three-digit sub-technique. ICS ids (T0800–T0899, e.g. Sentinel's T0865) are not Enterprise techniques.
func validEnterpriseTechnique(id string) error {
	if !techniquePattern.MatchString(id) {
		return fmt.Errorf("invalid technique id %q (want T1234 or T1234.001)", id)
	}
	if n, _ := strconv.Atoi(id[1:5]); n < 1000 {
		return fmt.Errorf("technique %q is not an ATT&CK Enterprise technique (ICS ids start with T08)", id)
	}
	return nil
}

// AttackLayer writes an ATT&CK Navigator layer (JSON, layer format 4.5, enterprise domain) of the techniques
// the rules cover. With hits nil a technique's score is the number of rules that name it; otherwise it is the
// sum of hits (e.g. alert counts by rule id) of those rules. Every technique id is validated, and hits may only
// name rules that are given. Each technique lists its rules in a comment and in metadata; a parent technique
// of a covered sub-technique shows its sub-techniques.
func AttackLayer(rules []*Rule, hits map[string]int) ([]byte, error) {
	known := map[string]bool{}
	type cover struct {
		score int
		rules []string
	}
	by := map[string]*cover{}
	for _, r := range rules {
		known[r.ID] = true
		for _, t := range r.Techniques {
			if err := validEnterpriseTechnique(t); err != nil {
				return nil, fmt.Errorf("attack layer: rule %s: %w", r.ID, err)
			}
			c := by[t]
			if c == nil {
				c = &cover{}
				by[t] = c
			}
			if hits == nil {
				c.score++
			} else {
				c.score += hits[r.ID]
			}
			c.rules = append(c.rules, r.ID)
		}
	}
	for id, n := range hits {
		if !known[id] {
			return nil, fmt.Errorf("attack layer: hits for unknown rule %q", id)
		}
		if n < 0 {
			return nil, fmt.Errorf("attack layer: negative hits %d for rule %q", n, id)
		}
	}
	parents := map[string]bool{}
	for t := range by {
		if p, _, ok := strings.Cut(t, "."); ok {
			parents[p] = true
		}
	}
	ids := make([]string, 0, len(by))
	for t := range by {
		ids = append(ids, t)
	}
	for p := range parents {
		if by[p] == nil {
			ids = append(ids, p)
		}
	}
	sort.Strings(ids)
	l := layer{
		Name:                          "castwatch detection coverage",
		Versions:                      layerVersions{Attack: attackVersion, Navigator: navigatorVersion, Layer: layerFormat},
		Domain:                        layerDomain,
		Sorting:                       3,
		ShowTacticRowBackground:       false,
		SelectTechniquesAcrossTactics: true,
		SelectSubtechniquesWithParent: false,
		LegendItems:                   []layerLegendItem{{Label: "not covered", Color: layerColorMissing}},
	}
	if hits == nil {
		l.Description = fmt.Sprintf("Techniques named by %d rules; score = number of rules.", len(rules))
	} else {
		l.Description = fmt.Sprintf("Techniques named by %d rules; score = alerts of those rules.", len(rules))
	}
	maxScore := 1
	for _, t := range ids {
		lt := layerTechnique{TechniqueID: t, Enabled: true, ShowSubtechniques: parents[t]}
		if c := by[t]; c != nil {
			sort.Strings(c.rules)
			lt.Score = c.score
			lt.Comment = fmt.Sprintf("%d rule(s): %s", len(c.rules), strings.Join(c.rules, ", "))
			for _, id := range c.rules {
				lt.Metadata = append(lt.Metadata, layerMetadata{Name: "rule", Value: id})
			}
			maxScore = max(maxScore, c.score)
		}
		l.Techniques = append(l.Techniques, lt)
	}
	if l.Techniques == nil {
		l.Techniques = []layerTechnique{}
	}
	l.Gradient = layerGradient{Colors: []string{layerColorLow, layerColorHigh}, MinValue: 0, MaxValue: maxScore}
	out, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("attack layer: %w", err)
	}
	return out, nil
}
