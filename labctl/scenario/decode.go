package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest scenario file Parse accepts.
const MaxFileSize = 1 << 20

// extensionPrefix starts the top-level keys decoding ignores: a place to
// define YAML anchors (x-defaults: &defaults ...) that nodes merge (<<: *defaults).
const extensionPrefix = "x-"

// maxElements bounds the work of decoding one file: every value decoded
// and every entry a merge key brings in counts, as aliases expand, so that
// aliases cannot make a small file decode into a huge scenario, or take
// long to (yaml.v3 bounds alias expansion the same way when it decodes into
// Go values; a yaml.Node tree keeps the aliases, so decoding counts here).
const maxElements = 100_000

// Load reads and parses the scenario file at path; see Parse. It reads
// regular files only (a named pipe or a device is refused before it is
// opened, so Load never blocks on one) and at most MaxFileSize+1 bytes.
func Load(path string) (*Scenario, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readFile reads a scenario file: a regular file, and no more of it than
// Parse accepts, plus one byte to tell that it is too large.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if !fi.Mode().IsRegular() {
		hint := "a scenario is read from a regular file: save it to one first"
		if fi.IsDir() {
			hint = "give the scenario files in it: " + filepath.Join(path, "*.yaml")
		}
		return nil, Errors{{File: path, Reason: fmt.Sprintf("%s, not a regular file", fileKind(fi.Mode())), Hint: hint}}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return data, nil
}

// fileKind names what a file that is not a regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// Parse decodes a scenario from data, checks it and returns it typed, with
// its defaults filled in (Network.Stack, Step.Timeout).
// name is the file name its errors report. Decoding is strict: unknown keys,
// duplicate keys and values of the wrong kind are errors. On any problem,
// Parse returns a nil scenario and Errors holding every problem found.
func Parse(name string, data []byte) (*Scenario, error) {
	d := &decoder{file: name, src: newSource()}
	sc := d.document(data)
	if sc == nil || d.full { // nothing decoded, or only part: validating it would report what is cut off
		d.errs.sort()
		if d.aliases {
			d.errs = d.errs.collapse()
		}
		return nil, d.errs
	}
	sc.File, sc.src = name, d.src
	errs := append(d.errs, sc.validate()...)
	if len(errs) > 0 {
		errs.sort()
		if d.aliases {
			errs = errs.collapse()
		}
		return nil, errs
	}
	sc.setDefaults()
	return sc, nil
}

// decoder turns a YAML node tree into scenario values, driven by the Go types
// and their yaml tags, recording where each element is written and
// collecting every problem.
type decoder struct {
	file  string
	errs  Errors
	src   *source
	count int
	full  bool // maxElements reached: stop decoding
	// aliases says the file uses aliases: errors may then repeat, once per
	// place an alias reaches (see Errors.collapse).
	aliases bool
}

// spend counts units of decoding work at node n; it reports false, once
// with an error, when the budget is spent, and always after.
func (d *decoder) spend(units int, n *yaml.Node, path string) bool {
	if d.full {
		return false
	}
	if d.count += units; d.count <= maxElements {
		return true
	}
	d.full = true
	if d.aliases {
		d.errorAt(n, path, "are aliases repeating large parts of the file?", "the scenario expands to more than %d values", maxElements)
	} else {
		d.errorAt(n, path, "a scenario is a short text file", "the file holds more than %d values", maxElements)
	}
	return false
}

// document decodes the one YAML document in data into a scenario; nil when
// there is nothing to decode.
func (d *decoder) document(data []byte) *Scenario {
	if len(data) > MaxFileSize {
		d.errs = append(d.errs, &Error{File: d.file, Reason: fmt.Sprintf("the file is larger than %d KiB", MaxFileSize>>10),
			Hint: "a scenario is a short text file"})
		return nil
	}
	if e := notText(data); e != nil {
		e.File = d.file
		d.errs = append(d.errs, e)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs = append(d.errs, &Error{File: d.file, Reason: "the file holds no scenario",
				Hint: "start with name: and nodes:"})
		} else {
			d.errs = append(d.errs, d.syntaxError(err, data))
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.errs = append(d.errs, d.syntaxError(err, data))
	default:
		d.errs = append(d.errs, &Error{File: d.file, Line: extra.Line, Column: extra.Column,
			Reason: "a second YAML document", Hint: "a scenario file holds one document: remove the ---"})
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.aliases = hasAliases(root)
	root = resolve(root)
	if root.Kind != yaml.MappingNode {
		d.errorAt(root, "", "start with name: and nodes:", "a scenario is a mapping, not %s", describe(root))
		return nil
	}
	sc := &Scenario{}
	d.src.pos[""] = position{root.Line, root.Column}
	d.value(root, "", reflect.ValueOf(sc).Elem(), 0)
	return sc
}

// wholeNumber matches a whole number written in decimal.
var wholeNumber = regexp.MustCompile(`^[-+]?[0-9]+$`)

// yamlLine matches yaml.v3's syntax errors, which name only the line.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserErrors are the errors of yaml.v3's parser (not its scanner), whose
// line numbers count from 0.
var parserErrors = map[string]bool{
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
}

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.+)' referenced$`)

// syntaxError turns a YAML parser error into an Error with its line.
func (d *decoder) syntaxError(err error, data []byte) *Error {
	e := &Error{File: d.file, Reason: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Reason = m[2]
		if parserErrors[e.Reason] {
			e.Line++ // yaml.v3 counts the parser's lines from 0
		}
	}
	if m := unknownAnchor.FindStringSubmatch(e.Reason); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			e.Line = bytes.Count(data[:i], []byte("\n")) + 1
			e.Column = i - bytes.LastIndexByte(data[:i], '\n')
		}
		e.Hint = "define it first with &" + m[1]
	}
	e.Reason = "YAML syntax: " + e.Reason
	lines := bytes.Split(data, []byte("\n"))
	if e.Line > 0 && e.Line <= len(lines) && bytes.Contains(lines[e.Line-1], []byte("\t")) {
		e.Hint = "indent with spaces: YAML does not allow tabs"
	}
	return e
}

func (d *decoder) errorAt(n *yaml.Node, path, hint, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path,
		Reason: fmt.Sprintf(format, args...), Hint: hint})
}

// fail reports that the value at path has the wrong kind and marks the path
// bad, so that validation does not also report it missing.
func (d *decoder) fail(n *yaml.Node, path, hint, format string, args ...any) {
	d.src.bad[path] = true
	d.errorAt(n, path, hint, format, args...)
}

func (d *decoder) at(path string, n *yaml.Node) {
	d.src.pos[path] = position{n.Line, n.Column}
}

var (
	durationType   = reflect.TypeFor[Duration]()
	attachmentType = reflect.TypeFor[Attachment]()
)

// textTypes are the typed values written as text in YAML, with how each is
// parsed. Decoding parses them once; validation judges the result and
// words its messages with the text as written (rawValue).
var textTypes = map[reflect.Type]func(string) (any, error){
	reflect.TypeFor[netip.Prefix](): func(s string) (any, error) { return netip.ParsePrefix(s) },
	reflect.TypeFor[netip.Addr]():   func(s string) (any, error) { return netip.ParseAddr(s) },
	reflect.TypeFor[Bytes]():        func(s string) (any, error) { return parseBytes(s) },
	reflect.TypeFor[Bind]():         func(s string) (any, error) { return parseBind(s) },
	reflect.TypeFor[Publish]():      func(s string) (any, error) { return parsePublish(s) },
}

// value decodes n into v, which is settable; path names it in errors.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value, depth int) {
	if !d.spend(1, n, path) {
		return
	}
	n = resolve(n)
	if depth > 16 {
		d.fail(n, path, "", "nested too deep")
		return
	}
	switch t := v.Type(); {
	case t == durationType:
		d.duration(n, path, v)
		return
	case textTypes[t] != nil:
		d.text(n, path, v, textTypes[t])
		return
	case t == impairType:
		d.impair(n, path, v, depth)
		return
	case t == stepType:
		d.step(n, path, v, depth)
		return
	case t == attachmentType && n.Kind == yaml.ScalarNode && !isNull(n):
		v.FieldByName("Network").SetString(n.Value)
		return
	}
	switch v.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "", "want a string, got %s", describe(n))
			return
		}
		if !isNull(n) {
			v.SetString(n.Value)
		}
	case reflect.Bool:
		if isNull(n) {
			return // left out
		}
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			d.fail(n, path, "", "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int64:
		if isNull(n) {
			return // left out
		}
		var i int64
		// yaml.v3 tags a whole number beyond 64 bits !!float.
		huge := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && wholeNumber.MatchString(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" && !huge {
			d.fail(n, path, "", "want a whole number, got %s", describe(n))
			return
		}
		if huge || n.Decode(&i) != nil {
			// A whole number beyond int64: saturated, it is judged (too
			// high) with the text as written.
			i = math.MaxInt64
			if strings.HasPrefix(n.Value, "-") {
				i = math.MinInt64
			}
			d.src.raw[path] = rawValue{text: n.Value}
		}
		v.SetInt(i)
	case reflect.Pointer:
		if isNull(n) {
			if v.Type().Elem().Kind() == reflect.String {
				d.fail(n, path, `write "" for an empty text`, "want a string, got nothing")
			}
			return
		}
		p := reflect.New(v.Type().Elem())
		d.value(n, path, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		d.mapping(n, path, v, depth)
	case reflect.Slice:
		if keyed(v.Type()) {
			d.keyed(n, path, v, depth)
		} else {
			d.sequence(n, path, v, depth)
		}
	case reflect.Map:
		d.stringMap(n, path, v)
	default:
		panic(fmt.Sprintf("scenario: no YAML decoding for %s", v.Type()))
	}
}

func (d *decoder) duration(n *yaml.Node, path string, v reflect.Value) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "", "want a duration such as 2s or 500ms, got %s", describe(n))
		return
	}
	dur, err := parseDuration(n.Value)
	if err != nil {
		d.fail(n, path, err.hint, "%s", err.reason)
		return
	}
	v.SetInt(int64(dur))
}

// text decodes a scalar written as text into a typed value. The text is
// kept for validation's messages; a value that does not parse is left zero
// with its error, for validation to report with the rules around it.
func (d *decoder) text(n *yaml.Node, path string, v reflect.Value, parse func(string) (any, error)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "", "want a string, got %s", describe(n))
		return
	}
	if n.Value == "" {
		return // left out
	}
	val, err := parse(n.Value)
	d.src.raw[path] = rawValue{text: n.Value, err: err}
	if err == nil {
		v.Set(reflect.ValueOf(val))
	}
}

// mapping decodes a YAML mapping into the struct v, one field per yaml tag.
func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value, depth int) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		hint := ""
		if v.Type() == attachmentType {
			hint = "write a network name, or name: with ipv4, ipv6 and aliases"
		}
		d.fail(n, path, hint, "want a mapping, got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.key
	}
	for _, e := range d.entries(n, path, depth) {
		if path == "" && strings.HasPrefix(e.key.Value, extensionPrefix) {
			continue // a place for anchors, as in compose files
		}
		f := fieldByKey(fields, e.key.Value)
		if f == nil {
			hint := didYouMean(e.key.Value, names)
			if hint != "" {
				// The field is probably there, misspelt: don't also report it missing.
				d.src.bad[join(path, closest(e.key.Value, names))] = true
			} else {
				hint = "known keys: " + strings.Join(names, ", ")
			}
			d.errorAt(e.key, path, hint, "unknown key %q", e.key.Value)
			continue
		}
		p := join(path, f.key)
		d.at(p, resolve(e.val))
		if isNull(resolve(e.val)) {
			d.src.empty[p] = true // a key with no value counts as left out
		}
		d.value(e.val, p, v.FieldByIndex(f.index), depth+1)
	}
}

// keyed decodes a YAML mapping from names to settings into a slice of
// structs that carry their Name (networks, nodes), keeping file order.
func (d *decoder) keyed(n *yaml.Node, path string, v reflect.Value, depth int) {
	if isNull(n) {
		return
	}
	elem := v.Type().Elem().Elem()
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, fmt.Sprintf("write %s as a mapping from name to settings", path), "want a mapping, got %s", describe(n))
		return
	}
	for _, e := range d.entries(n, path, depth) {
		p := join(path, e.key.Value)
		d.at(p, e.key)
		item := reflect.New(elem)
		item.Elem().FieldByName("Name").SetString(e.key.Value)
		item.Elem().FieldByName("Line").SetInt(int64(e.key.Line))
		d.value(e.val, p, item.Elem(), depth+1)
		v.Set(reflect.Append(v, item))
	}
}

// sequence decodes a YAML sequence into a slice.
func (d *decoder) sequence(n *yaml.Node, path string, v reflect.Value, depth int) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			// "python3 /lab/server.py" is two items: no shell splits it.
			hint = fmt.Sprintf("write a list: [%s]", n.Value)
			if words := strings.Fields(n.Value); len(words) > 1 {
				hint = fmt.Sprintf("write a list, one item per argument: [%s]", strings.Join(words, ", "))
			}
		}
		d.fail(n, path, hint, "want a list, got %s", describe(n))
		return
	}
	et := v.Type().Elem()
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		item = resolve(item)
		d.at(p, item)
		var ev reflect.Value
		if et.Kind() == reflect.Pointer {
			ev = reflect.New(et.Elem())
			if f := ev.Elem().FieldByName("Line"); f.IsValid() {
				f.SetInt(int64(item.Line))
			}
			d.value(item, p, ev.Elem(), depth+1)
		} else {
			ev = reflect.New(et).Elem()
			d.value(item, p, ev, depth+1)
		}
		v.Set(reflect.Append(v, ev))
	}
}

// stringMap decodes a YAML mapping of scalars into a map[string]string.
func (d *decoder) stringMap(n *yaml.Node, path string, v reflect.Value) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "write NAME: value lines", "want a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, e := range d.entries(n, path, 0) {
		p := join(path, e.key.Value)
		d.at(p, e.key)
		val := resolve(e.val)
		if val.Kind != yaml.ScalarNode {
			d.fail(val, p, "", "want a string, got %s", describe(val))
			continue
		}
		s := val.Value
		if isNull(val) {
			s = ""
		}
		m.SetMapIndex(reflect.ValueOf(e.key.Value), reflect.ValueOf(s))
	}
	v.Set(m)
}

// entry is one key and value of a YAML mapping.
type entry struct{ key, val *yaml.Node }

// entries lists the entries of mapping n in file order, with merge keys
// (<<: *anchor) expanded: a key written in n wins over a merged one, and a
// key written twice in n is an error.
func (d *decoder) entries(n *yaml.Node, path string, depth int) []entry {
	explicit := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode || isMerge(k) {
			continue
		}
		if first, dup := explicit[k.Value]; dup {
			d.errorAt(k, path, fmt.Sprintf("first at line %d", first.Line), "%q is defined twice", k.Value)
			continue
		}
		explicit[k.Value] = k
	}
	seen := map[string]bool{}
	var out []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.src.bad[path] = true
			d.errorAt(k, path, "", "a key must be a plain name, not %s", describe(k))
		case isMerge(k):
			for _, e := range d.merged(val, path, depth) {
				if explicit[e.key.Value] == nil && !seen[e.key.Value] {
					seen[e.key.Value] = true
					out = append(out, e)
				}
			}
		case explicit[k.Value] == k && !seen[k.Value]:
			seen[k.Value] = true
			out = append(out, entry{k, val})
		}
	}
	return out
}

// merged lists the entries a merge key brings in: one mapping or a list of
// mappings, the earlier winning.
func (d *decoder) merged(val *yaml.Node, path string, depth int) []entry {
	if depth > 16 || !d.spend(1, val, path) {
		return nil
	}
	val = resolve(val)
	switch val.Kind {
	case yaml.MappingNode:
		out := d.entries(val, path, depth+1)
		if !d.spend(len(out), val, path) {
			return nil
		}
		return out
	case yaml.SequenceNode:
		var out []entry
		for _, m := range val.Content {
			if m = resolve(m); m.Kind != yaml.MappingNode {
				d.errorAt(m, path, "", "<< merges mappings, not %s", describe(m))
				continue
			}
			// Every entry merged in counts, at each level, so the work of
			// merges of merges is bounded as it grows.
			es := d.entries(m, path, depth+1)
			if !d.spend(len(es), m, path) {
				return nil
			}
			out = append(out, es...)
		}
		return out
	}
	d.errorAt(val, path, "", "<< merges mappings, not %s", describe(val))
	return nil
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// hasAliases reports whether the tree under n holds an alias (not following
// them: the tree is as large as the file).
func hasAliases(n *yaml.Node) bool {
	stack := []*yaml.Node{n}
	for len(stack) > 0 {
		n, stack = stack[len(stack)-1], stack[:len(stack)-1]
		if n.Kind == yaml.AliasNode {
			return true
		}
		stack = append(stack, n.Content...)
	}
	return false
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's kind for messages: "a list", "the string \"x\"".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an alias"
}

// field is a struct field the YAML format knows, by its key.
type field struct {
	key    string
	index  []int
	typ    reflect.Type
	goName string
}

// yamlFields lists t's fields that have a YAML key, in declaration order.
func yamlFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		out = append(out, field{key: key, index: f.Index, typ: f.Type, goName: f.Name})
	}
	return out
}

func fieldByKey(fields []field, key string) *field {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i]
		}
	}
	return nil
}

// keyed reports whether slice type t is written in YAML as a mapping from
// name to settings: a slice of struct pointers whose Name has no YAML key.
func keyed(t reflect.Type) bool {
	if t.Elem().Kind() != reflect.Pointer || t.Elem().Elem().Kind() != reflect.Struct {
		return false
	}
	f, ok := t.Elem().Elem().FieldByName("Name")
	return ok && f.Tag.Get("yaml") == "-"
}

// simpleKey matches the names a path writes after a dot.
var simpleKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// join appends key to path: nodes + alice = nodes.alice; keys that are not
// plain names are quoted: env["MY VAR"].
func join(path, key string) string {
	if !simpleKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// durationTerm is one number and unit of a duration, the number perhaps
// with an exponent, which Go durations do not take.
var durationTerm = regexp.MustCompile(`([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(ns|us|µs|μs|ms|s|m|h)`)

// durationUnits are the units of durationTerm, in nanoseconds.
var durationUnits = map[string]float64{"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}

// parseDuration parses a Go duration such as 500ms or 1m30s.
func parseDuration(s string) (time.Duration, *valueError) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err == nil {
		return d, nil
	}
	const tooLong = "a duration is at most 2562047h, about 292 years; a step needs seconds or minutes"
	if f, nerr := strconv.ParseFloat(s, 64); nerr == nil {
		if f*1e9 >= math.MaxInt64 {
			return 0, &valueError{fmt.Sprintf("duration %s has no unit, and is too long as seconds", s), tooLong}
		}
		return 0, &valueError{fmt.Sprintf("duration %s has no unit", s), fmt.Sprintf("write %ss or %sms", s, s)}
	}
	// Well-formed but too long (100000000h), or with an exponent (1e9h).
	if terms := durationTerm.FindAllStringSubmatch(s, -1); terms != nil && durationTerm.ReplaceAllString(s, "") == "" {
		total, exp := 0.0, false
		for _, t := range terms {
			f, _ := strconv.ParseFloat(t[1], 64)
			total += f * durationUnits[t[2]]
			exp = exp || strings.ContainsAny(t[1], "eE")
		}
		switch {
		case total >= math.MaxInt64:
			return 0, &valueError{fmt.Sprintf("duration %q is too long", s), tooLong}
		case exp:
			return 0, &valueError{fmt.Sprintf("%q is not a duration", s),
				fmt.Sprintf("durations take no exponent: did you mean %q?", time.Duration(total).String())}
		}
	}
	// Longer words first: the replacer tries them in this order.
	fixed := strings.NewReplacer(" ", "", "minutes", "m", "mins", "m", "min", "m", "msecs", "ms", "msec", "ms",
		"seconds", "s", "second", "s", "secs", "s", "sec", "s", "hours", "h", "hour", "h").Replace(strings.ToLower(s))
	if _, ferr := time.ParseDuration(fixed); ferr == nil {
		return 0, &valueError{fmt.Sprintf("%q is not a duration", s), fmt.Sprintf("did you mean %q?", fixed)}
	}
	return 0, &valueError{fmt.Sprintf("%q is not a duration", s), "write a number and a unit: 500ms, 2s, 1m30s"}
}

// MarshalText writes d as "1.5s", for YAML and JSON.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration ("500ms", "2s").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return fmt.Errorf("scenario: %s", err.reason)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes b as String does ("64m"), for YAML and JSON.
func (b Bytes) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText parses a size: a number of bytes, or of k, m or g (powers of
// 1024), as in 64m.
func (b *Bytes) UnmarshalText(text []byte) error {
	v, err := parseBytes(string(text))
	if err != nil {
		return fmt.Errorf("scenario: memory %q is not a size (%w)", text, err)
	}
	*b = v
	return nil
}

// yamlNetwork and yamlAttachment are Network and Attachment as YAML writes
// them: yaml.v3 omits every netip value under omitempty (it sees a struct
// of unexported fields as zero), so their text is written instead.
type (
	yamlNetwork struct {
		Stack    Stack  `yaml:"stack,omitempty"`
		IPv4     string `yaml:"ipv4,omitempty"`
		IPv6     string `yaml:"ipv6,omitempty"`
		Internal bool   `yaml:"internal,omitempty"`
		Egress   bool   `yaml:"egress,omitempty"`
	}
	yamlAttachment struct {
		Network string   `yaml:"name"`
		IPv4    string   `yaml:"ipv4,omitempty"`
		IPv6    string   `yaml:"ipv6,omitempty"`
		Aliases []string `yaml:"aliases,omitempty"`
	}
)

// MarshalYAML writes the network as a scenario file does, subnets as text.
func (n Network) MarshalYAML() (any, error) {
	return yamlNetwork{n.Stack, textOf(n.IPv4), textOf(n.IPv6), n.Internal, n.Egress}, nil
}

// MarshalYAML writes the attachment as a scenario file does, addresses as text.
func (a Attachment) MarshalYAML() (any, error) {
	return yamlAttachment{a.Network, textOf(a.IPv4), textOf(a.IPv6), a.Aliases}, nil
}

// textOf is a netip value's text, "" for the zero value.
func textOf(v interface {
	IsValid() bool
	String() string
}) string {
	if !v.IsValid() {
		return ""
	}
	return v.String()
}
