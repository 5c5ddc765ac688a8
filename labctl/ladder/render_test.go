package ladder

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"socketlab/internal/labtest"
)

// Every case's SVG is well-formed XML with no script, one arrow label per
// packet and each state change written.
func TestSVGWellFormed(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Read(bytes.NewReader(tc.pcap(t)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := l.Conversations[0]
			var svg bytes.Buffer
			if err := WriteSVG(&svg, c); err != nil {
				t.Fatal(err)
			}
			texts := svgTexts(t, svg.Bytes())
			all := strings.Join(texts, "\n")
			for _, a := range c.Arrows {
				if !strings.Contains(all, a.Label()) {
					t.Errorf("no label %q in the SVG", a.Label())
				}
			}
			for _, sc := range c.States {
				if !strings.Contains(all, sc.State) {
					t.Errorf("no state %s in the SVG", sc.State)
				}
			}
			if tc.lost > 0 && !strings.Contains(all, "[lost]") {
				t.Error("the lost packet is not marked in the SVG")
			}
			if tc.incomplete && !strings.Contains(all, "capture is incomplete") {
				t.Error("the SVG does not say the capture is incomplete")
			}
		})
	}
}

// svgTexts parses an SVG as XML, fails on a script or an external
// reference, and returns the text of its text elements.
func svgTexts(t *testing.T, svg []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var texts []string
	in := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Local == "script" || e.Name.Local == "foreignObject" {
				t.Fatalf("SVG has a <%s>", e.Name.Local)
			}
			for _, a := range e.Attr {
				if a.Name.Local == "href" || strings.HasPrefix(a.Name.Local, "on") {
					t.Fatalf("SVG has attribute %s=%q", a.Name.Local, a.Value)
				}
			}
			in = e.Name.Local == "text"
		case xml.CharData:
			if in {
				texts = append(texts, string(e))
			}
		case xml.EndElement:
			in = false
		}
	}
	return texts
}

func TestJSON(t *testing.T) {
	tc := cases()[4] // lossy-link
	l, err := Read(bytes.NewReader(tc.pcap(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteJSON(&out, l); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Conversations []struct {
			Arrows []struct {
				Lost           bool   `json:"lost"`
				Retransmission bool   `json:"retransmission"`
				Flags          string `json:"flags"`
			} `json:"arrows"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	arrows := back.Conversations[0].Arrows
	if !arrows[3].Lost || !arrows[6].Retransmission || arrows[0].Flags != "SYN" {
		t.Errorf("JSON arrows: %+v", arrows)
	}
}

// The HTML page of every case as headless Chromium (Debian's chromium)
// renders it: one SVG per conversation in the DOM, and a phone-sized and a
// desktop screenshot with the lost packet's red in them. Set
// LADDER_SCREENSHOTS=DIR to keep the page and the screenshots for a look.
func TestInBrowser(t *testing.T) {
	bin := labtest.NeedCommand(t, "chromium", "chromium")
	dir := t.TempDir()
	var all Ladder
	for _, tc := range cases() {
		l, err := Read(bytes.NewReader(tc.pcap(t)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l.Conversations {
			c.ID = len(all.Conversations) + 1
			all.Conversations = append(all.Conversations, c)
		}
		all.Frames += l.Frames
		all.Drawn += l.Drawn
		all.Gaps = append(all.Gaps, l.Gaps...)
	}
	path := filepath.Join(dir, "ladder.html")
	var page bytes.Buffer
	if err := WriteHTML(&page, &all, "labctl ladder: every case"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	u := (&url.URL{Scheme: "file", Path: path}).String()
	dom := string(chromium(t, bin, "--dump-dom", u))
	if n := strings.Count(dom, "<svg"); n != len(all.Conversations) {
		t.Errorf("Chromium's DOM has %d SVGs, want %d", n, len(all.Conversations))
	}
	keep := os.Getenv("LADDER_SCREENSHOTS")
	for _, size := range []struct {
		name string
		w, h int
	}{{"phone", 412, 2400}, {"desktop", 1280, 4000}} {
		shot := filepath.Join(dir, size.name+".png")
		chromium(t, bin, "--screenshot="+shot, fmt.Sprintf("--window-size=%d,%d", size.w, size.h), "--hide-scrollbars", u)
		f, err := os.Open(shot)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		// The lost packet's cross, in #c62828 (no other red on the page),
		// is in the screenshot: the lossy-link ladder is the fifth.
		red := false
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y && !red; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if near(r>>8, 0xc6) && near(g>>8, 0x28) && near(bl>>8, 0x28) {
					red = true
					break
				}
			}
		}
		if !red {
			t.Errorf("%s screenshot shows no lost-packet red", size.name)
		}
		if keep != "" {
			for from, to := range map[string]string{shot: size.name + ".png", path: "ladder.html"} {
				if data, err := os.ReadFile(from); err != nil || os.WriteFile(filepath.Join(keep, to), data, 0o644) != nil {
					t.Errorf("LADDER_SCREENSHOTS: cannot keep %s in %s", to, keep)
				}
			}
		}
	}
}

func near(v, want uint32) bool { return v+6 >= want && v <= want+6 }

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

// -o svg: every conversation in one well-formed image, one under the other.
func TestSVGAll(t *testing.T) {
	var all Ladder
	for _, tc := range cases()[:3] {
		l, err := Read(bytes.NewReader(tc.pcap(t)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		all.Conversations = append(all.Conversations, l.Conversations...)
	}
	var svg bytes.Buffer
	if err := WriteSVGAll(&svg, &all); err != nil {
		t.Fatal(err)
	}
	texts := strings.Join(svgTexts(t, svg.Bytes()), "\n")
	if n := strings.Count(texts, "SYN seq=0"); n != 3 {
		t.Errorf("%d SYNs in the image, want one per conversation (3)", n)
	}
	if !strings.Contains(svg.String(), `<svg y="0" `) || strings.Count(svg.String(), "<svg ") != 4 {
		t.Errorf("want an outer <svg> and three placed inside it:\n%.400s", svg.String())
	}
}
