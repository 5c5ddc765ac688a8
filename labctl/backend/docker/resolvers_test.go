package docker

import (
	"fmt"
	"testing"
)

func TestUpstreams(t *testing.T) {
	for _, c := range []struct{ name, conf, want string }{
		{"one", "nameserver 10.255.255.53\n", "[10.255.255.53]"},
		{"loopback left out", "# generated\nnameserver 127.0.0.1\nnameserver 192.168.1.1\nnameserver fe80::1%eth0\n", "[192.168.1.1 fe80::1]"},
		{"only loopback: Docker's defaults", "nameserver 127.0.0.53\noptions edns0\n", "[8.8.8.8 8.8.4.4 2001:4860:4860::8888 2001:4860:4860::8844]"},
		{"none: Docker's defaults", "search lan\n", "[8.8.8.8 8.8.4.4 2001:4860:4860::8888 2001:4860:4860::8844]"},
	} {
		if got := fmt.Sprint(upstreams([]byte(c.conf))); got != c.want {
			t.Errorf("%s: upstreams = %s, want %s", c.name, got, c.want)
		}
	}
}
