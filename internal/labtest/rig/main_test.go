package main

import (
	"strings"
	"testing"
)

// TestTally counts every test and subtest of a go test -json stream and
// shows the output of the top-level tests that failed, subtests' lines
// with them, and nothing of those that passed.
func TestTally(t *testing.T) {
	stream := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"a says hello\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB/one","Output":"    b_test.go:9: want 1, got 2\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB/one"}`,
		`{"Action":"pass","Package":"p","Test":"TestB/two"}`,
		`{"Action":"skip","Package":"p","Test":"TestB/three"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"--- FAIL: TestB (1.00s)\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t1.2s\n"}`,
		`{"Action":"fail","Package":"p"}`,
		`# p [p.test]`,
	}, "\n")
	var out strings.Builder
	n := tally(strings.NewReader(stream), &out)
	if n != (counts{passed: 2, failed: 2, skipped: 1}) {
		t.Errorf("counts %+v, want 2 passed, 2 failed, 1 skipped", n)
	}
	want := "    b_test.go:9: want 1, got 2\n--- FAIL: TestB (1.00s)\nFAIL\tp\t1.2s\n# p [p.test]\n"
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
}
