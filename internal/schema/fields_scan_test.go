package schema

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestParseFieldsMatchesUnmarshal checks that the one-pass field scan returns what json.Unmarshal does.
func TestParseFieldsMatchesUnmarshal(t *testing.T) {
	for _, in := range []string{
		`{}`, ` { } `, `{"a":1}`, "{\n\t\"a\" : \"x\" ,\"b\":[1, {\"c\":\"}]\"}] , \"d\":{\"e\":null}}\n",
		`{"a":"x\"y","b":"\u00e9","a":"last"}`, `{"a":true,"b":false,"c":null,"d":-1.5e3}`,
		`{"k\u0041":1}`, `{"é":"x"}`, `{"a":"é\\"}`, `{"a":[]}`, `{"a":{}}`, `{"a":"\ud800"}`,
	} {
		var want fieldMap
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got, err := parseFields([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{`{"a":}`, `{"a":1`, `{"a":1}x`, `[1]`, `"s"`, `{"a" 1}`, `{a:1}`, `{"a":01}`} {
		if _, ok := scanFields([]byte(in)); ok {
			t.Errorf("%s: scanned as a valid object", in)
		}
	}
}

// TestValueFastPathsMatchUnmarshal checks the string and number shortcuts of the column conversions.
func TestValueFastPathsMatchUnmarshal(t *testing.T) {
	for _, in := range []string{`"abc"`, `" 12.5 "`, `""`, `" "`, `"a\"b"`, `"\u00e9"`, `"é"`, `12`, `-0.5e2`, `1e400`, `"x"`} {
		v := json.RawMessage(in)
		var s string
		if json.Unmarshal(v, &s) == nil {
			if got := stringOf(v); got != s {
				t.Errorf("stringOf(%s) = %q, want %q", in, got, s)
			}
		}
		gotF, gotErr := realOf(v)
		var f float64
		var wantF any
		if json.Unmarshal(v, &f) == nil {
			wantF = f
		}
		if wantF != nil && (gotErr != nil || gotF != wantF) {
			t.Errorf("realOf(%s) = %v, %v, want %v", in, gotF, gotErr, wantF)
		}
	}
}
