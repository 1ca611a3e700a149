package schema

import "testing"

func TestParseTimeRefusesTheZeroTime(t *testing.T) {
	for _, s := range []string{"0001-01-01", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+0000"} {
		if got, err := ParseTime(s); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", s, got)
		}
	}
	if _, err := ParseTime("0001-01-01T00:00:01Z"); err != nil {
		t.Errorf("a real (if odd) time was refused: %v", err)
	}
}
