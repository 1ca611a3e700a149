package detect

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"testing"
)

// at walks a decoded JSON document along keys.
func at(t *testing.T, doc any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := doc.(map[string]any)
		if !ok {
			t.Fatalf("schema: %v is not an object", keys)
		}
		doc = m[k]
	}
	return doc
}

func objectKeys(t *testing.T, doc any, keys ...string) []string {
	t.Helper()
	m, ok := at(t, doc, keys...).(map[string]any)
	if !ok {
		t.Fatalf("schema: %v is not an object", keys)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func enum(t *testing.T, doc any, keys ...string) []string {
	t.Helper()
	l, ok := at(t, doc, keys...).([]any)
	if !ok {
		t.Fatalf("schema: %v is not a list", keys)
	}
	var out []string
	for _, v := range l {
		out = append(out, v.(string))
	}
	return out
}

func sortedStrings(l []string) []string {
	c := slices.Clone(l)
	sort.Strings(c)
	return c
}

// TestJSONSchemaMatchesLoader keeps rules/rule.schema.json in step with what the loader accepts.
func TestJSONSchemaMatchesLoader(t *testing.T) {
	data, err := os.ReadFile("rules/rule.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("schema is not valid JSON: %v", err)
	}
	checks := []struct {
		name      string
		got, want []string
	}{
		{"top-level fields", objectKeys(t, doc, "properties"), sortedStrings(topFields)},
		{"threshold fields", objectKeys(t, doc, "properties", "threshold", "properties"),
			sortedStrings([]string{"group_by", "count", "distinct", "op", "value", "window"})},
		{"dedup fields", objectKeys(t, doc, "properties", "dedup", "properties"), []string{"key", "period"}},
		{"reads fields", objectKeys(t, doc, "properties", "reads", "properties"), []string{"event_types", "tables"}},
		{"test fields", objectKeys(t, doc, "properties", "tests", "items", "properties"), sortedStrings(testFields)},
		{"severities", enum(t, doc, "properties", "severity", "enum"), severities},
		{"statuses", enum(t, doc, "properties", "status", "enum"), statuses},
		{"tactics", enum(t, doc, "properties", "tactics", "items", "enum"), tactics},
		{"entity types", enum(t, doc, "properties", "entities", "items", "properties", "type", "enum"), entityTypes},
		{"event types", enum(t, doc, "properties", "reads", "properties", "event_types", "items", "enum"), knownEventTypes},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !slices.Equal(c.got, c.want) {
				t.Errorf("schema has %v, loader has %v", c.got, c.want)
			}
		})
	}
	t.Run("modifiers", func(t *testing.T) {
		pat, _ := at(t, doc, "$defs", "fieldMap", "propertyNames", "pattern").(string)
		re := regexp.MustCompile(pat)
		for m := range modifiers {
			if !re.MatchString("src_ip|" + m) {
				t.Errorf("schema rejects modifier %q", m)
			}
		}
		if re.MatchString("src_ip|sounds_like") {
			t.Error("schema accepts an unknown modifier")
		}
	})
}
