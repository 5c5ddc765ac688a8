package scenario

import (
	"errors"
	"strings"
	"testing"
)

func TestNodeHost(t *testing.T) {
	const src = "name: h\nnetworks:\n  n: {}\nnodes:\n  a:\n    image: echo\n    networks: [n]\n    host: %s\n"
	_, err := Parse("h.yaml", []byte(strings.Replace(src, "%s", "Bad_Host", 1)))
	if err == nil || !strings.Contains(err.Error(), `h.yaml:8:11: nodes.a.host: host name "Bad_Host" is not valid`) {
		t.Errorf("a host name that is no DNS label: %v", err)
	}
	sc, err := Parse("h.yaml", []byte(strings.Replace(src, "%s", "tow", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Node("a").Host != "tow" {
		t.Errorf("host = %q", sc.Node("a").Host)
	}
	if err := sc.CheckHosts([]string{"one", "tow"}); err != nil {
		t.Errorf("a node on a known host: %v", err)
	}
	err = sc.CheckHosts([]string{"one", "two"})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Error() != `h.yaml:8:11: nodes.a.host: host "tow" is not in the hosts file (did you mean "two"?)` {
		t.Errorf("a node on an unknown host: %v", err)
	}
}
