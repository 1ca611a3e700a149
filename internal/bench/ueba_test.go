package bench

import "testing"

func TestUEBABenchmarkSmall(t *testing.T) {
	res, err := UEBA(UEBAOptions{Users: 40, Days: 8, Mails: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []UEBARun{res.FactsOnly, res.WithModels} {
		if r.Items == 0 || r.PerSecond <= 0 {
			t.Errorf("%s: no events measured: %+v", r.Name, r.Rate)
		}
	}
	if res.FactsOnly.Items != res.WithModels.Items {
		t.Errorf("the two runs saw different histories: %d and %d events", res.FactsOnly.Items, res.WithModels.Items)
	}
	if res.WithModels.Models == 0 || res.FactsOnly.Models != 0 {
		t.Errorf("models: with %d, without %d", res.WithModels.Models, res.FactsOnly.Models)
	}
	if res.WithModels.Scopes == 0 {
		t.Error("no model learnt anything")
	}
	if res.Ratio <= 0 {
		t.Errorf("ratio = %v", res.Ratio)
	}
}
