package detect

import "testing"

func TestTestdataRules(t *testing.T) {
	rules, err := LoadDir("testdata/rules")
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if len(rules) != 2 {
		t.Fatalf("loaded %d rules, want 2", len(rules))
	}
	for _, res := range RunTests(rules) {
		t.Run(res.RuleID+"/"+res.Name, func(t *testing.T) {
			for _, f := range res.Failures {
				t.Error(f)
			}
			if !res.Passed {
				t.Error("test did not pass")
			}
		})
	}
}
