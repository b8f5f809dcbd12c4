package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromium finds a headless-capable Chromium, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: apt-get install chromium to run the HTML screenshot test")
	return ""
}

// TestHTMLScreenshot renders the HTML report in headless Chromium and checks
// that the page has content: a PNG, mostly white, with enough ink for the
// cards, charts and tables.
func TestHTMLScreenshot(t *testing.T) {
	bin := chromium(t)
	r, _ := sample(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	if *keep != "" {
		shot = filepath.Join(*keep, "report.png")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--hide-scrollbars", "--no-first-run", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--screenshot="+shot, "--window-size=1200,2000", "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+dir) // Chromium writes its config under HOME
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decoding the screenshot: %v", err)
	}
	bounds := img.Bounds()
	if bounds.Dx() != 1200 || bounds.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1200×2000", bounds.Size())
	}
	ink, blue, green := 0, 0, 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b := rgb(img, x, y)
			if r < 0xf0 || g < 0xf0 || b < 0xf0 {
				ink++
			}
			// The chart bars: --offered #3b6fd8 and --negotiated #2f9e6e.
			if near(r, g, b, 0x3b, 0x6f, 0xd8) {
				blue++
			}
			if near(r, g, b, 0x2f, 0x9e, 0x6e) {
				green++
			}
		}
	}
	total := bounds.Dx() * bounds.Dy()
	if ink < total/50 || ink > total/2 {
		t.Errorf("%d of %d pixels are not white, want between 2%% and 50%%: a blank or broken page", ink, total)
	}
	if blue < 2000 || green < 2000 {
		t.Errorf("%d offered-blue and %d negotiated-green pixels: the SVG bar charts did not render", blue, green)
	}
	t.Logf("screenshot %s: %d%% ink, %d blue and %d green chart pixels", shot, 100*ink/total, blue, green)
}

func rgb(img image.Image, x, y int) (r, g, b int) {
	r32, g32, b32, _ := img.At(x, y).RGBA()
	return int(r32 >> 8), int(g32 >> 8), int(b32 >> 8)
}

// near reports whether a pixel is within antialiasing distance of a colour.
func near(r, g, b, wr, wg, wb int) bool {
	d := func(a, b int) int { return max(a-b, b-a) }
	return d(r, wr) < 12 && d(g, wg) < 12 && d(b, wb) < 12
}
