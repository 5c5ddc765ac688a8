package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes: it must never panic, and what it
// says must hold together: a scenario it accepts validates again with its
// defaults in place; a rejection is Errors, each with a reason and, unless it
// concerns the whole file, a position.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/broken/*.yaml", "testdata/valid/*.yaml", "../../scenarios/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("fuzz.yaml", data)
		if err == nil {
			if sc == nil {
				t.Fatal("no scenario and no error")
			}
			for _, n := range sc.Networks {
				if n.Stack == "" {
					t.Errorf("network %q has no stack after Parse", n.Name)
				}
			}
			for i, st := range sc.Steps {
				if st.Timeout <= 0 {
					t.Errorf("steps[%d] has no timeout after Parse", i)
				}
			}
			if err := sc.Validate(); err != nil {
				t.Errorf("an accepted scenario fails Validate: %v", err)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("Parse error %T %v is not Errors", err, err)
		}
		for _, e := range errs {
			if e.Reason == "" || e.File != "fuzz.yaml" {
				t.Errorf("error without reason or file: %#v", e)
			}
			if e.Line == 0 && e.Path != "" {
				t.Errorf("error about %s has no position: %v", e.Path, e)
			}
		}
	})
}
