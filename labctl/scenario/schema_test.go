package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const schemaFile = "../../scenarios/scenario.schema.json"

// TestSchemaFile fails when the committed schema no longer matches the Go
// types; go generate (or go test -update) rewrites it.
func TestSchemaFile(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date: run go generate ./labctl/scenario (or go test ./labctl/scenario -run TestSchemaFile -update)", schemaFile)
	}
}

// TestSchemaDescribesEveryField checks that every YAML key has a
// description from its doc comment, so editors can explain it on hover.
func TestSchemaDescribesEveryField(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	if root["$schema"] != SchemaID {
		t.Errorf("$schema = %v", root["$schema"])
	}
	var walk func(path string, s map[string]any)
	count := 0
	walk = func(path string, s map[string]any) {
		if props, ok := s["properties"].(map[string]any); ok {
			for k, p := range props {
				ps := p.(map[string]any)
				count++
				if d, _ := ps["description"].(string); d == "" || !strings.HasPrefix(d, k+" ") {
					t.Errorf("%s.%s: description %q does not start with the key", path, k, d)
				}
				walk(path+"."+k, ps)
			}
		}
		for _, k := range []string{"items", "additionalProperties"} {
			if sub, ok := s[k].(map[string]any); ok {
				walk(path+"/"+k, sub)
			}
		}
		if branches, ok := s["anyOf"].([]any); ok {
			for _, sub := range branches {
				walk(path+"/anyOf", sub.(map[string]any))
			}
		}
	}
	walk("", root)
	if count < 30 {
		t.Errorf("only %d properties in the schema", count)
	}
}

// TestSchemaAgreesWithParse validates scenarios against the schema with a
// small draft-07 checker: what Parse accepts the schema must accept (or an
// editor would flag a valid file), and mistakes of shape the schema can see
// it must reject.
func TestSchemaAgreesWithParse(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	shipped, _ := filepath.Glob("../../scenarios/*.yaml")
	for _, file := range append(valid, shipped...) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if _, err := Load(file); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if probs := checkSchema(root, loadYAML(t, file), ""); len(probs) > 0 {
				t.Errorf("the schema rejects a valid scenario:\n%s", strings.Join(probs, "\n"))
			}
		})
	}
	// Broken scenarios whose mistakes are of shape: the schema sees them.
	for _, name := range []string{"unknown-keys", "image", "stack", "wrong-kinds", "wrong-kinds-2", "steps-durations", "lab-name", "limits", "node-names"} {
		t.Run("broken/"+name, func(t *testing.T) {
			if probs := checkSchema(root, loadYAML(t, "testdata/broken/"+name+".yaml"), ""); len(probs) == 0 {
				t.Errorf("the schema accepts broken/%s.yaml", name)
			}
		})
	}
}

func loadYAML(t *testing.T, file string) any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// checkSchema validates v against s, for the keywords Schema writes.
func checkSchema(s map[string]any, v any, path string) []string {
	var probs []string
	bad := func(format string, args ...any) {
		probs = append(probs, path+": "+fmt.Sprintf(format, args...))
	}
	if types, ok := s["type"]; ok {
		var ts []string
		switch tt := types.(type) {
		case string:
			ts = []string{tt}
		case []any:
			for _, x := range tt {
				ts = append(ts, x.(string))
			}
		}
		if !slices.Contains(ts, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(ts, "number")) {
			bad("type %s, want %v", jsonType(v), ts)
			return probs
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		bad("%v not in enum %v", v, enum)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, ok := v.(string); ok && !regexp.MustCompile(p).MatchString(str) {
			bad("%q does not match %s", str, p)
		}
	}
	if m, ok := s["maxLength"].(float64); ok {
		if str, ok := v.(string); ok && len([]rune(str)) > int(m) {
			bad("%q longer than %v", str, m)
		}
	}
	if m, ok := s["minimum"].(float64); ok {
		if n, ok := v.(int); ok && float64(n) < m {
			bad("%d below %v", n, m)
		}
	}
	if branches, ok := s["anyOf"].([]any); ok {
		matched := false
		for _, sub := range branches {
			if len(checkSchema(sub.(map[string]any), v, path)) == 0 {
				matched = true
			}
		}
		if !matched {
			bad("matches no anyOf branch")
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for _, r := range asSlice(s["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				bad("missing %s", r)
			}
		}
		for k, val := range obj {
			if pn, ok := s["propertyNames"].(map[string]any); ok {
				probs = append(probs, checkSchema(pn, k, path+"."+k+"(name)")...)
			}
			if p, ok := props[k]; ok {
				probs = append(probs, checkSchema(p.(map[string]any), val, path+"."+k)...)
				continue
			}
			patterned := false
			for pat, sub := range asMap(s["patternProperties"]) {
				if regexp.MustCompile(pat).MatchString(k) {
					patterned = true
					probs = append(probs, checkSchema(sub.(map[string]any), val, path+"."+k)...)
				}
			}
			if patterned {
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("additional property %s", k)
				}
			case map[string]any:
				probs = append(probs, checkSchema(ap, val, path+"."+k)...)
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"].(map[string]any); ok {
			for i, item := range arr {
				probs = append(probs, checkSchema(items, item, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return probs
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int, int64, uint64:
		return "integer"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
