package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
)

// testcontainers-go is how Go tests outside the engine run a socketlab
// image. Its reaper (Ryuk) would be pulled from a registry, so it is off,
// with exactly "true" ("1" turns it back on); containers are terminated by
// each test. Set before the first testcontainers call.
// Its progress lines are dropped: a failing test says what failed.
func init() {
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	tclog.SetDefault(tclog.NewNoopLogger())
}

// exchanges talk to each service from the host, dialling the container's
// own address (the host reaches it as root; no port is published), and
// return what came back.
var exchanges = map[string]func(ip string) (string, error){
	"welcome": func(ip string) (string, error) { return talkTCP(ip, "9999", "", "\n") },
	"echo":    func(ip string) (string, error) { return talkTCP(ip, "7", "hello from testcontainers\n", "\n") },
	"chat": func(ip string) (string, error) {
		return talkTCP(ip, "6667", "NICK tc\r\nUSER tc 0 * :tc\r\n", " 001 ")
	},
	"web": func(ip string) (string, error) {
		return talkTCP(ip, "80", "GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n", "HTTP/1.1 200")
	},
	"lookup":    func(ip string) (string, error) { return talkTCP(ip, "65432", "", "") },
	"responder": func(ip string) (string, error) { return talkUDP(ip, "9999", "hi") },
}

// TestImagesWithTestcontainers runs every service image with
// testcontainers-go, waits for its own HEALTHCHECK, and talks to it.
func TestImagesWithTestcontainers(t *testing.T) {
	t.Parallel()
	labtest.Need(t)
	for _, svc := range labtest.Services() {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			labtest.NeedImages(t, svc)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ctr, err := testcontainers.Run(ctx, images.Ref(svc, ""),
				testcontainers.WithWaitStrategy(wait.ForHealthCheck().WithStartupTimeout(30*time.Second)),
				testcontainers.WithHostConfigModifier(func(h *container.HostConfig) {
					h.ReadonlyRootfs, h.CapDrop = true, []string{"ALL"}
					h.PortBindings = nil // nothing published: the host dials the container
				}),
				testcontainers.WithLabels(map[string]string{"socketlab.test": labtest.Name(t)}),
			)
			testcontainers.CleanupContainer(t, ctr)
			if err != nil {
				t.Fatalf("run %s: %v", svc, err)
			}
			ins, err := ctr.Inspect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ip string
			for _, ep := range ins.NetworkSettings.Networks {
				if ep.IPAddress.IsValid() {
					ip = ep.IPAddress.String()
				}
			}
			if ip == "" {
				t.Fatalf("%s has no IPv4 address", svc)
			}
			got, err := exchanges[svc](ip)
			if err != nil {
				t.Fatalf("%s at %s: %v (got %q)", svc, ip, err, got)
			}
			if svc == "lookup" {
				return // it waits for a request: the open connection is the answer
			}
			if got == "" {
				t.Errorf("%s at %s answered nothing", svc, ip)
			}
		})
	}
}

// talkTCP connects, sends send, and reads until want has come (or, with
// want "", only checks that the connection opens).
func talkTCP(ip, port, send, want string) (string, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if want == "" {
		return "", nil
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			return "", err
		}
	}
	var got strings.Builder
	r := bufio.NewReader(c)
	for !strings.Contains(got.String(), want) {
		line, err := r.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			return got.String(), fmt.Errorf("no %q: %w", want, err)
		}
	}
	return got.String(), nil
}

func talkUDP(ip, port, send string) (string, error) {
	c, err := net.Dial("udp", net.JoinHostPort(ip, port))
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, send); err != nil {
		return "", err
	}
	b := make([]byte, 1500)
	n, err := c.Read(b)
	return string(b[:n]), err
}
