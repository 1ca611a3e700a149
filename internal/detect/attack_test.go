package detect

import (
	"encoding/json"
	"strings"
	"testing"
)

type layerDoc struct {
	Versions   struct{ Layer string } `json:"versions"`
	Domain     string                 `json:"domain"`
	Techniques []struct {
		TechniqueID       string `json:"techniqueID"`
		Score             int    `json:"score"`
		ShowSubtechniques bool   `json:"showSubtechniques"`
		Metadata          []struct{ Name, Value string }
	} `json:"techniques"`
	Gradient struct {
		MaxValue int `json:"maxValue"`
	} `json:"gradient"`
}

func TestAttackLayerBuiltin(t *testing.T) {
	rules, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	hits := map[string]int{"952faed4-c6a6-4873-aeb9-b348e9ce5aba": 7, "80f244cd-b0d6-404e-9aed-37f7a66eda9f": 2,
		"72bd7b0c-493c-4fa5-8a95-7f6376b6cfb2": 1}
	tests := []struct {
		name   string
		hits   map[string]int
		scores map[string]int
		max    int
	}{
		// T1566: SEG URL Protect and SEG Attachment Protect. T1053: AV and Virus. T1114: three rules.
		{"score by rule count", nil, map[string]int{"T1566": 2, "T1053": 2, "T1114": 3, "T1566.001": 2, "T1566.002": 1,
			"T1110": 1, "T1030": 2, "T1534": 1, "T1546": 1, "T1083": 1}, 3},
		{"score by hits", hits, map[string]int{"T1566": 3, "T1566.002": 7, "T1566.001": 1, "T1110": 0, "T1114": 1}, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AttackLayer(rules, tc.hits)
			if err != nil {
				t.Fatal(err)
			}
			var doc layerDoc
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("layer is not JSON: %v", err)
			}
			if doc.Versions.Layer != "4.5" || doc.Domain != "enterprise-attack" || doc.Gradient.MaxValue != tc.max {
				t.Errorf("layer %q domain %q max %d", doc.Versions.Layer, doc.Domain, doc.Gradient.MaxValue)
			}
			got := map[string]int{}
			for _, tq := range doc.Techniques {
				got[tq.TechniqueID] = tq.Score
				if strings.HasPrefix(tq.TechniqueID, "T0") {
					t.Errorf("ICS technique %s in the enterprise layer", tq.TechniqueID)
				}
				if tq.TechniqueID == "T1566" && !tq.ShowSubtechniques {
					t.Error("T1566 does not show its covered sub-techniques")
				}
			}
			for id, want := range tc.scores {
				if s, ok := got[id]; !ok || s != want {
					t.Errorf("%s: score %d (present %v), want %d", id, s, ok, want)
				}
			}
		})
	}
	again, _ := AttackLayer(rules, hits)
	first, _ := AttackLayer(rules, hits)
	if string(again) != string(first) {
		t.Error("the layer is not deterministic")
	}
}

func TestAttackLayerErrors(t *testing.T) {
	mk := func(id string, techs ...string) *Rule { return &Rule{ID: id, Techniques: techs} }
	tests := []struct {
		name  string
		rules []*Rule
		hits  map[string]int
		want  string
	}{
		{"ICS technique", []*Rule{mk("r", "T0865")}, nil, `technique "T0865" is not an ATT&CK Enterprise technique`},
		{"malformed id", []*Rule{mk("r", "T15661")}, nil, `invalid technique id "T15661"`},
		{"hits for an unknown rule", []*Rule{mk("r", "T1566")}, map[string]int{"nope": 1}, `hits for unknown rule "nope"`},
		{"negative hits", []*Rule{mk("r", "T1566")}, map[string]int{"r": -1}, "negative hits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := AttackLayer(tc.rules, tc.hits); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("no rules gives an empty valid layer", func(t *testing.T) {
		b, err := AttackLayer(nil, nil)
		if err != nil || !strings.Contains(string(b), `"techniques": []`) {
			t.Fatalf("%v %s", err, b)
		}
	})
}
