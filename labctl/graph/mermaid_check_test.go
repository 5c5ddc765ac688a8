package graph

import (
	"fmt"
	"regexp"
	"strings"
)

// checkMermaid is the syntax check the tests apply to Mermaid output: a
// parser of the flowchart subset Mermaid writes, strict where Mermaid's own
// grammar is (identifiers, quoting, the link and shape tokens, entity
// codes), plus the rules a diagram needs to mean what it says (every link
// and class names a declared shape, no shape declared twice). No Mermaid
// runs here: mermaid-js needs node and a registry, neither of which the lab
// machines have.
func checkMermaid(src string) error {
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	i := 0
	if len(lines) > 0 && lines[0] == "---" {
		end := -1
		for j := 1; j < len(lines); j++ {
			if lines[j] == "---" {
				end = j
				break
			}
			if !frontMatter.MatchString(lines[j]) {
				return fmt.Errorf("line %d: front matter %q is not `title: \"...\"`", j+1, lines[j])
			}
		}
		if end < 0 {
			return fmt.Errorf("line 1: front matter has no closing ---")
		}
		i = end + 1
	}
	if i >= len(lines) || lines[i] != "flowchart TB" {
		return fmt.Errorf("line %d: want the header `flowchart TB`", i+1)
	}
	declared := map[string]bool{}
	classes := map[string]bool{}
	type use struct {
		line int
		id   string
	}
	var uses []use
	var classUses []use
	for n, line := range lines[i+1:] {
		ln := i + n + 2
		if !strings.HasPrefix(line, "    ") {
			return fmt.Errorf("line %d: %q is not indented as a statement", ln, line)
		}
		stmt := strings.TrimPrefix(line, "    ")
		if m := shapeStmt.FindStringSubmatch(stmt); m != nil {
			id, label := m[1], m[3]
			if err := checkID(id); err != nil {
				return fmt.Errorf("line %d: %w", ln, err)
			}
			if declared[id] {
				return fmt.Errorf("line %d: %s is declared twice", ln, id)
			}
			if err := checkLabel(label); err != nil {
				return fmt.Errorf("line %d: %w", ln, err)
			}
			declared[id] = true
			continue
		}
		if m := linkStmt.FindStringSubmatch(stmt); m != nil {
			for _, id := range []string{m[1], m[3]} {
				if err := checkID(id); err != nil {
					return fmt.Errorf("line %d: %w", ln, err)
				}
				uses = append(uses, use{ln, id})
			}
			if m[2] != "" {
				if err := checkLabel(m[2]); err != nil {
					return fmt.Errorf("line %d: %w", ln, err)
				}
			}
			continue
		}
		if m := classDefStmt.FindStringSubmatch(stmt); m != nil {
			classes[m[1]] = true
			continue
		}
		if m := classStmt.FindStringSubmatch(stmt); m != nil {
			if !classes[m[2]] {
				return fmt.Errorf("line %d: class %s is used before its classDef", ln, m[2])
			}
			for _, id := range strings.Split(m[1], ",") {
				classUses = append(classUses, use{ln, id})
			}
			continue
		}
		return fmt.Errorf("line %d: %q is no statement of the flowchart subset", ln, stmt)
	}
	for _, u := range append(uses, classUses...) {
		if !declared[u.id] {
			return fmt.Errorf("line %d: %s is not declared", u.line, u.id)
		}
	}
	return nil
}

var (
	frontMatter  = regexp.MustCompile(`^title: "[^"\\]*"$`)
	shapeStmt    = regexp.MustCompile(`^([^\s\[\]|"]+)(\[/"|\[")([^"]*)("/\]|"\])$`)
	linkStmt     = regexp.MustCompile(`^(\S+) ---(?:\|"([^"]*)"\|)? (\S+)$`)
	classDefStmt = regexp.MustCompile(`^classDef ([A-Za-z][A-Za-z0-9_]*) ([a-z-]+:[#A-Za-z0-9]+)(,[a-z-]+:[#A-Za-z0-9]+)*$`)
	classStmt    = regexp.MustCompile(`^class ([A-Za-z][A-Za-z0-9_]*(?:,[A-Za-z][A-Za-z0-9_]*)*) ([A-Za-z][A-Za-z0-9_]*)$`)
	idRE         = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	entityRE     = regexp.MustCompile(`#([a-z]+|[0-9]+);`)
	tagRE        = regexp.MustCompile(`<[^>]*>`)
)

// checkID rejects identifiers Mermaid would misread: anything but letters,
// digits and underscores, the keyword end, and a leading o or x (which
// Mermaid takes for a circle or cross edge right after a link).
func checkID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("identifier %q has characters outside [A-Za-z0-9_]", id)
	}
	if strings.EqualFold(id, "end") || id[0] == 'o' || id[0] == 'x' {
		return fmt.Errorf("identifier %q is one Mermaid misreads", id)
	}
	return nil
}

// checkLabel accepts a quoted label's text: entity codes written #name; or
// #123; only, and no markup but <b>, </b> and <br/>.
func checkLabel(label string) error {
	rest := entityRE.ReplaceAllString(label, "")
	if strings.Contains(rest, "#") {
		return fmt.Errorf("label %q has a # that starts no entity code", label)
	}
	for _, tag := range tagRE.FindAllString(rest, -1) {
		if tag != "<b>" && tag != "</b>" && tag != "<br/>" {
			return fmt.Errorf("label %q has markup %s", label, tag)
		}
	}
	if strings.ContainsAny(tagRE.ReplaceAllString(rest, ""), "<>\n") {
		return fmt.Errorf("label %q has an unescaped < or >", label)
	}
	return nil
}
