package docker

import (
	"net/netip"
	"slices"
	"testing"

	"socketlab/labctl/backend"
)

func TestHealthArgv(t *testing.T) {
	tests := []struct {
		test []string
		want []string
	}{
		{[]string{"CMD", "/bin/echo", "healthcheck"}, []string{"/bin/echo", "healthcheck"}},
		{[]string{"CMD-SHELL", "true"}, []string{"/bin/sh", "-c", "true"}},
		{[]string{"NONE"}, nil},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := healthArgv(tt.test); !slices.Equal(got, tt.want) {
			t.Errorf("healthArgv(%q) = %q, want %q", tt.test, got, tt.want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	es := endpoint(backend.Endpoint{IPv4: netip.MustParseAddr("10.1.0.5"), IPv6: netip.MustParseAddr("fd00:1::5"), Aliases: []string{"n", "x"}})
	if es.IPAMConfig.IPv4Address.String() != "10.1.0.5" || es.IPAMConfig.IPv6Address.String() != "fd00:1::5" || len(es.Aliases) != 2 {
		t.Errorf("endpoint = %+v %+v", es, es.IPAMConfig)
	}
	if es := endpoint(backend.Endpoint{Aliases: []string{"n"}}); es.IPAMConfig != nil {
		t.Error("no fixed address, yet an IPAM config")
	}
}
