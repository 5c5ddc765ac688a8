package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"socketlab/internal/labtest"
)

// The report as a browser sees it: headless Chromium (Debian's chromium)
// loads the page from disk; the DOM it built has every step, marks the
// failed ones, and its capture links lead to files that exist; a phone-sized
// screenshot shows the failure in red. Set REPORT_SCREENSHOTS=DIR to keep
// the screenshots for a look.
func TestInBrowser(t *testing.T) {
	bin := labtest.NeedCommand(t, "chromium", "chromium")
	dir := t.TempDir()
	run := sampleRun(t, dir)
	path, err := Write(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	page := (&url.URL{Scheme: "file", Path: path}).String()

	dom := chromium(t, bin, "--dump-dom", page)
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatalf("parse Chromium's DOM: %v", err)
	}
	byID := map[string]*html.Node{}
	var captures []string
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if id := attr(n, "id"); id != "" {
			byID[id] = n
		}
		if n.Data == "a" && hasClass(n, "capture") {
			captures = append(captures, attr(n, "href"))
		}
	}
	steps := 0
	for i, sc := range run.Scenarios {
		sec := byID[fmt.Sprintf("s%d", i+1)]
		if sec == nil {
			t.Fatalf("scenario %s is not on the page", sc.Report.Scenario)
		}
		if want := sc.Report.Passed(); hasClass(sec, "fail") == want {
			t.Errorf("scenario %s: class %q, passed = %v", sc.Report.Scenario, attr(sec, "class"), want)
		}
		for j, r := range sc.Report.Results {
			steps++
			li := byID[fmt.Sprintf("s%d-%d", i+1, j+1)]
			if li == nil {
				t.Errorf("step %d of %s is not on the page", j+1, sc.Report.Scenario)
				continue
			}
			text := textOf(li)
			if !strings.Contains(text, r.Name) || !strings.Contains(text, strings.ToUpper(r.Outcome)) {
				t.Errorf("step %s: text %q lacks its name or %s", r.Name, text, strings.ToUpper(r.Outcome))
			}
			if got := attr(li, "data-outcome"); got != r.Outcome || !hasClass(li, r.Outcome) {
				t.Errorf("step %s: outcome on the page %q (class %q), want %s", r.Name, got, attr(li, "class"), r.Outcome)
			}
			if r.Outcome == "fail" && (!strings.Contains(text, r.Expected) || !strings.Contains(text, r.Got)) {
				t.Errorf("failed step %s does not show expected and got: %q", r.Name, text)
			}
			if j < len(sc.Packets) {
				for _, p := range sc.Packets[j] {
					if !strings.Contains(text, p) {
						t.Errorf("step %s lacks packet %q", r.Name, p)
					}
				}
			}
		}
	}
	if n := countClass(doc, "li", "step"); n != steps {
		t.Errorf("%d steps on the page, want %d", n, steps)
	}
	if len(captures) != 1 {
		t.Errorf("capture links %v, want one (default's)", captures)
	}
	for _, href := range captures {
		u, err := url.Parse(page)
		if err != nil {
			t.Fatal(err)
		}
		target, err := u.Parse(href)
		if err != nil {
			t.Fatalf("capture link %q: %v", href, err)
		}
		if _, err := os.Stat(target.Path); err != nil {
			t.Errorf("capture link %q does not resolve to a file: %v", href, err)
		}
	}
	if n := countClass(doc, "svg", "") - countClass(doc, "svg", "ladder"); n != 2 {
		t.Errorf("%d inline SVG graphs, want 2", n)
	}
	// The first step's conversation is drawn as a ladder beside its
	// packets: lanes named by node, the SYN and the RST that refused it.
	if n := countClass(doc, "svg", "ladder"); n != 1 {
		t.Errorf("%d ladders, want 1 (default's first step)", n)
	} else if text := textOf(byID["s1-1"]); !strings.Contains(text, "SYN seq=0") || !strings.Contains(text, "RST,ACK seq=1 ack=1") || !strings.Contains(text, "SYN_SENT") {
		t.Errorf("step 1's ladder lacks its arrows or states: %q", text)
	}

	for _, size := range []struct {
		name string
		w, h int
	}{{"phone", 412, 1400}, {"desktop", 1280, 2600}} {
		shot := filepath.Join(t.TempDir(), size.name+".png")
		chromium(t, bin, "--screenshot="+shot, fmt.Sprintf("--window-size=%d,%d", size.w, size.h), "--hide-scrollbars", page)
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("screenshot %s: %v", size.name, err)
		}
		if b := img.Bounds(); b.Dx() != size.w {
			t.Errorf("%s screenshot is %d wide, want %d", size.name, b.Dx(), size.w)
		}
		// The FAIL badge of the failed scenario is near the top, in the
		// page's red (#c62828): the CSS applied and the failure shows.
		red := false
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y && !red; y++ {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				if near(r>>8, 0xc6) && near(g>>8, 0x28) && near(b>>8, 0x28) {
					red = true
					break
				}
			}
		}
		if !red {
			t.Errorf("%s screenshot shows no failure red", size.name)
		}
		if keep := os.Getenv("REPORT_SCREENSHOTS"); keep != "" {
			for from, to := range map[string]string{shot: size.name + ".png", path: FileName} {
				if data, err := os.ReadFile(from); err != nil || os.WriteFile(filepath.Join(keep, to), data, 0o644) != nil {
					t.Errorf("REPORT_SCREENSHOTS: cannot keep %s in %s", to, keep)
				}
			}
		}
	}
}

// chromium runs headless Chromium with a profile of its own and returns
// what it wrote on stdout.
func chromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return slices.Contains(strings.Fields(attr(n, "class")), class)
}

func countClass(doc *html.Node, tag, class string) int {
	c := 0
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == tag && (class == "" || hasClass(n, class)) {
			c++
		}
	}
	return c
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func near(v, want uint32) bool { return v+6 >= want && v <= want+6 }
