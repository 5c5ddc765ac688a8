package result_test

import (
	"encoding/json"
	"slices"
	"testing"

	"socketlab/internal/result"
)

// TestWireShape pins the JSON names scenario steps and people's scripts read.
func TestWireShape(t *testing.T) {
	r := result.Result{Client: "echo", Target: "echo", Network: "tcp", OK: false,
		Error: "connection refused by [::1]:7", ErrorKind: result.Refused,
		Timings: result.Timings{Total: 1.5}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"client":"echo","target":"echo","network":"tcp","bytes_sent":0,"bytes_received":0,` +
		`"timings_ms":{"resolve":0,"connect":0,"total":1.5},"ok":false,` +
		`"error":"connection refused by [::1]:7","error_kind":"refused"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back result.Result
	if err := json.Unmarshal(b, &back); err != nil || back.ErrorKind != result.Refused || back.Timings.Total != 1.5 {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestExpectable(t *testing.T) {
	got := result.Expectable()
	want := []result.Kind{"refused", "timeout", "unreachable", "resolve", "reset", "protocol", "any"}
	if !slices.Equal(got, want) {
		t.Errorf("Expectable() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if result.Expectable()[0] != result.Refused {
		t.Error("Expectable returned its own slice: a caller changed the vocabulary")
	}
}

func TestMatches(t *testing.T) {
	cases := []struct {
		want, got result.Kind
		ok        bool
	}{
		{result.Refused, result.Refused, true},
		{result.Refused, result.Timeout, false},
		{result.Any, result.IO, true},
		{result.Any, result.Timeout, true},
		{result.Timeout, result.IO, false},
	}
	for _, c := range cases {
		if c.want.Matches(c.got) != c.ok {
			t.Errorf("%s.Matches(%s) = %v, want %v", c.want, c.got, !c.ok, c.ok)
		}
	}
}
