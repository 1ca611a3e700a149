package ueba

import "testing"

// TestBuiltinContent loads the built-in models and rules and runs each inline test.
func TestBuiltinContent(t *testing.T) {
	c, err := LoadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range RunTests(c) {
		t.Run(r.ID+"/"+r.Name, func(t *testing.T) {
			if r.Err != nil {
				t.Errorf("%s: %v", r.Source, r.Err)
			}
		})
	}
}
