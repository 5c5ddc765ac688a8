package scenario

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"reflect"
	"strings"
)

//go:generate go test -run ^TestSchemaFile$ -update .

// typesSource is this package's type definitions: their doc comments are the
// schema's descriptions, so that the Go types stay the single definition.
// A step kind's file (step_*.go) may define the types of its own keys.
//
//go:embed scenario.go step_*.go
var typesSource embed.FS

// SchemaID is the draft of JSON Schema that Schema writes: draft-07, the
// newest that yaml-language-server supports.
const SchemaID = "http://json-schema.org/draft-07/schema#"

// Schema returns the JSON Schema of scenario files, generated from the Go
// types: their YAML keys, kinds, vocabularies and doc comments. Editors
// with yaml-language-server use it through the first line of a scenario:
//
//	# yaml-language-server: $schema=./scenario.schema.json
//
// The schema helps while typing; Parse remains the judge (references,
// addresses and steps are only checked there).
func Schema() ([]byte, error) {
	docs, err := docComments()
	if err != nil {
		return nil, fmt.Errorf("scenario: schema: %w", err)
	}
	g := &schemaGen{docs: docs}
	root := g.object(reflect.TypeFor[Scenario]())
	root.Schema = SchemaID
	root.Title = "socketlab scenario"
	root.PatternProperties = map[string]*schema{"^" + extensionPrefix: {
		Description: "Ignored: a place for YAML anchors that nodes merge with <<: *name.",
	}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("scenario: schema: %w", err)
	}
	return b.Bytes(), nil
}

// schema is the part of JSON Schema draft-07 the generator writes, in the
// order a reader wants to see it.
type schema struct {
	Schema               string             `json:"$schema,omitempty"`
	Title                string             `json:"title,omitempty"`
	Description          string             `json:"description,omitempty"`
	Type                 any                `json:"type,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
	Default              any                `json:"default,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	MaxLength            int                `json:"maxLength,omitempty"`
	Minimum              *int64             `json:"minimum,omitempty"`
	Required             []string           `json:"required,omitempty"`
	Properties           properties         `json:"properties,omitempty"`
	PatternProperties    map[string]*schema `json:"patternProperties,omitempty"`
	PropertyNames        *schema            `json:"propertyNames,omitempty"`
	AdditionalProperties any                `json:"additionalProperties,omitempty"`
	Items                *schema            `json:"items,omitempty"`
	AnyOf                []*schema          `json:"anyOf,omitempty"`
}

// properties keeps the fields' declaration order in the JSON object.
type properties []property

type property struct {
	name string
	s    *schema
}

// MarshalJSON writes the properties as one object, in order.
func (ps properties) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.name)
		v, err := marshal(p.s)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without escaping <, > and &, which the
// descriptions use as text.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// What the types alone do not say, by "Type.Field".
var (
	schemaEnums = map[string][]string{
		"Network.Stack":   stacks,
		"stepKeys.Run":    clients,
		"stepKeys.Family": stepFamilies,
		"stepKeys.Action": actions,
		"Expect.Family":   expectFamilies,
		"Expect.Fail":     failKinds,
	}
	schemaDefaults = map[string]any{
		"Network.Stack":    string(Dual),
		"stepKeys.Timeout": DefaultTimeout.String(),
	}
	schemaPatterns = map[string]string{
		"Scenario.Name": labelRE.String(),
		"Node.Memory":   `^[0-9]+[bBkKmMgG]?$`,
	}
	schemaMaxLength = map[string]int{
		"Scenario.Name": maxLabName,
	}
	schemaMinimum = map[string]int64{
		"Node.Pids": minPids,
	}
	// durationPattern matches the positive durations time.ParseDuration takes.
	durationPattern = `^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`
	// scalars are what a free-text value may be written as in YAML.
	scalars = []string{"string", "number", "boolean"}
)

// schemaGen builds the schema of a type by reflection.
type schemaGen struct {
	docs map[string]string // "Type" and "Type.Field" → doc comment
}

// object is the schema of a struct type: one property per YAML key.
func (g *schemaGen) object(t reflect.Type) *schema {
	s := &schema{Type: "object", Description: g.docs[t.Name()], AdditionalProperties: false}
	for _, f := range yamlFields(t) {
		id := t.Name() + "." + f.goName
		ps := g.field(id, f.typ)
		ps.Description = describeField(g.docs[id], f.goName, f.key)
		s.Properties = append(s.Properties, property{f.key, ps})
		sf, _ := t.FieldByName(f.goName)
		switch typ, one := ps.Type.(string); {
		case !strings.Contains(sf.Tag.Get("yaml"), ",omitempty"):
			s.Required = append(s.Required, f.key)
		case one && !(f.typ.Kind() == reflect.Pointer && f.typ.Elem().Kind() == reflect.String):
			// An optional key written without a value is left out; but
			// equals: with nothing is an error (write "").
			ps.Type = []string{typ, "null"}
			if ps.Enum != nil {
				ps.Enum = append(ps.Enum, nil)
			}
		}
	}
	return s
}

// field is the schema of one field's value; id is "Type.Field".
func (g *schemaGen) field(id string, t reflect.Type) *schema {
	switch {
	case t == durationType:
		return &schema{Type: "string", Pattern: durationPattern, Default: schemaDefaults[id]}
	case t == impairType || t.Kind() == reflect.Pointer && t.Elem() == impairType:
		return impairSchema()
	case textTypes[t] != nil: // subnets, addresses, sizes: text in YAML
		var typ any = "string"
		if k, ok := schemaTextKinds[id]; ok {
			typ = k
		}
		return &schema{Type: typ, Pattern: schemaPatterns[id]}
	case t.Kind() == reflect.Pointer:
		return g.field(id, t.Elem())
	case t.Kind() == reflect.String:
		s := &schema{Type: "string", Default: schemaDefaults[id], Pattern: schemaPatterns[id], MaxLength: schemaMaxLength[id]}
		for _, v := range schemaEnums[id] {
			s.Enum = append(s.Enum, v)
		}
		return s
	case t.Kind() == reflect.Bool:
		return &schema{Type: "boolean"}
	case t.Kind() == reflect.Int64:
		s := &schema{Type: "integer"}
		if m, ok := schemaMinimum[id]; ok {
			s.Minimum = &m
		}
		return s
	case t.Kind() == reflect.Map:
		return &schema{Type: "object", PropertyNames: &schema{Pattern: envKeyRE.String()},
			AdditionalProperties: &schema{Type: []string{"string", "number", "boolean", "null"}}}
	case t.Kind() == reflect.Slice && keyed(t):
		item := g.object(t.Elem().Elem())
		if len(item.Required) == 0 {
			item.Type = []string{"object", "null"} // `front:` alone takes every default
		}
		return &schema{Type: "object", PropertyNames: &schema{Pattern: labelRE.String(), MaxLength: maxName},
			AdditionalProperties: item}
	case t.Kind() == reflect.Slice:
		return &schema{Type: "array", Items: g.item(id, t.Elem())}
	case t.Kind() == reflect.Struct:
		return g.object(t)
	}
	panic(fmt.Sprintf("scenario: no schema for %s", t))
}

// item is the schema of one element of a list field.
func (g *schemaGen) item(id string, t reflect.Type) *schema {
	switch {
	case t.Kind() == reflect.Pointer && t.Elem() == attachmentType:
		obj := g.object(attachmentType)
		desc := obj.Description
		obj.Description = "The network's name, with fixed addresses or aliases."
		return &schema{Description: desc, AnyOf: []*schema{
			{Type: "string", Description: "The name of one of the lab's networks."},
			obj,
		}}
	case t.Kind() == reflect.Pointer && t.Elem() == stepType:
		// A step is written as its keys; its kinds are told apart by them.
		obj := g.object(stepKeysType)
		obj.Description = g.docs[stepType.Name()]
		return obj
	case t.Kind() == reflect.Pointer:
		return g.object(t.Elem())
	case textTypes[t] != nil: // files, mounts, publish: text in YAML
		return &schema{Type: "string"}
	case t.Kind() == reflect.String && (id == "Attachment.Aliases" || id == "Node.Tmpfs" || id == "Node.CapAdd"):
		return &schema{Type: "string"}
	case t.Kind() == reflect.String:
		return &schema{Type: scalars}
	}
	panic(fmt.Sprintf("scenario: no schema for items of %s", t))
}

// describeField turns a field's doc comment into a description for YAML
// writers: it starts with the YAML key instead of the Go name.
func describeField(doc, goName, key string) string {
	if rest, ok := strings.CutPrefix(doc, goName+" "); ok {
		return key + " " + rest
	}
	return doc
}

// docComments reads the doc comments of the types in typesSource.
func docComments() (map[string]string, error) {
	files, err := fs.Glob(typesSource, "*.go")
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	for _, name := range files {
		src, err := typesSource.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		typeDocs(f, docs)
	}
	return docs, nil
}

// typeDocs adds the doc comments of f's types and their fields to docs, by
// "Type" and "Type.Field".
func typeDocs(f *ast.File, docs map[string]string) {
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil {
				doc = gd.Doc
			}
			docs[ts.Name.Name] = oneLine(doc)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fl := range st.Fields.List {
				for _, name := range fl.Names {
					docs[ts.Name.Name+"."+name.Name] = oneLine(fl.Doc)
				}
			}
		}
	}
}

func oneLine(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	return strings.Join(strings.Fields(cg.Text()), " ")
}
