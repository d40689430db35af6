package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/rflkit/rflkit/bench"
)

// MaxPlotWorkloads caps the rows of the distribution plot.
const MaxPlotWorkloads = 6

// Plot draws the per-arm distributions of a: one panel per workload
// (rows, at most MaxPlotWorkloads) and measure (columns: whole-path
// instructions per I/O from the plugin when a has them, else fio-derived
// instructions per I/O and IOPS), a box plot per
// arm with every measured run drawn as a point over it, coloured by the
// boot it came from. It returns the SVG and PNG encodings.
func Plot(a *bench.Analysis) (svg, png []byte, err error) {
	var measures []bench.Measure
	var workloads []string
	seenW := map[string]bool{}
	// The plugin's whole-path count where it exists: the measure that
	// carries the conclusions (the driver's own counts are exact, one value
	// per arm, and are tabled in the report; the fio-derived figure is in
	// steps of ~50 instructions). Without it, the fio-derived figure and
	// wall-clock IOPS.
	candidates := []bench.Measure{bench.MeasureInstr, bench.MeasureIOPS}
	if slices.ContainsFunc(a.Arms, func(s bench.ArmStats) bool { return s.Measure == bench.MeasurePathInsns }) {
		candidates = []bench.Measure{bench.MeasurePathInsns}
	}
	for _, m := range candidates {
		for _, s := range a.Arms {
			if s.Measure == m {
				measures = append(measures, m)
				break
			}
		}
	}
	for _, s := range a.Arms {
		if !seenW[s.Key.Workload] && len(workloads) < MaxPlotWorkloads {
			seenW[s.Key.Workload] = true
			workloads = append(workloads, s.Key.Workload)
		}
	}
	if len(measures) == 0 {
		return nil, nil, fmt.Errorf("report: nothing to plot")
	}
	plots := make([][]*plot.Plot, len(workloads))
	for i, wl := range workloads {
		plots[i] = make([]*plot.Plot, len(measures))
		for j, m := range measures {
			p, err := armPlot(a, m, wl)
			if err != nil {
				return nil, nil, err
			}
			plots[i][j] = p
		}
	}
	w := vg.Length(len(measures)) * 5.5 * vg.Inch
	h := vg.Length(len(workloads)) * 3.6 * vg.Inch
	tiles := draw.Tiles{Rows: len(workloads), Cols: len(measures), PadX: vg.Inch / 4, PadY: vg.Inch / 4,
		PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}

	sc := vgsvg.New(w, h)
	drawTiles(plots, tiles, draw.New(sc))
	var sb bytes.Buffer
	if _, err := sc.WriteTo(&sb); err != nil {
		return nil, nil, fmt.Errorf("report: svg: %w", err)
	}
	ic := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))
	drawTiles(plots, tiles, draw.New(ic))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: ic}).WriteTo(&pb); err != nil {
		return nil, nil, fmt.Errorf("report: png: %w", err)
	}
	return sb.Bytes(), pb.Bytes(), nil
}

func drawTiles(plots [][]*plot.Plot, t draw.Tiles, dc draw.Canvas) {
	cs := plot.Align(plots, t, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(cs[i][j])
		}
	}
}

// bootColor is the colour of the i-th boot's points.
func bootColor(i int) color.RGBA {
	palette := [...]color.RGBA{
		{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
		{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	}
	return palette[i%len(palette)]
}

func armPlot(a *bench.Analysis, m bench.Measure, wl string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = wl
	p.Y.Label.Text = m.Label()
	p.Title.TextStyle.Font.Size = vg.Points(11)
	var names []string
	x := 0.0
	rng := rand.New(rand.NewPCG(1, 2)) // jitter only; deterministic output
	for _, s := range a.Arms {
		if s.Measure != m || s.Key.Workload != wl {
			continue
		}
		var vals plotter.Values
		for _, b := range s.ByBoot {
			vals = append(vals, b...)
		}
		if len(vals) == 0 {
			continue
		}
		box, err := plotter.NewBoxPlot(vg.Points(28), x, vals)
		if err != nil {
			return nil, fmt.Errorf("report: plot: %w", err)
		}
		box.FillColor = color.RGBA{0xee, 0xee, 0xee, 0xff}
		p.Add(box)
		for bi, b := range s.ByBoot {
			pts := make(plotter.XYs, len(b))
			for k, v := range b {
				pts[k] = plotter.XY{X: x + 0.25 + 0.1*(rng.Float64()-0.5), Y: v}
			}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, fmt.Errorf("report: plot: %w", err)
			}
			sc.GlyphStyle.Color = bootColor(bi)
			sc.GlyphStyle.Radius = vg.Points(2.2)
			p.Add(sc)
		}
		names = append(names, s.Key.Kernel+"\n"+string(s.Key.Driver))
		x++
	}
	p.NominalX(names...)
	// Pad the value axis so that points at the extremes stay visible.
	lo, hi := p.Y.Min, p.Y.Max
	pad := (hi - lo) * 0.08
	if pad < 1e-4*math.Abs(hi) {
		pad = 1e-4 * math.Abs(hi)
	}
	p.Y.Min, p.Y.Max = lo-pad, hi+pad
	p.X.Padding = vg.Points(20)
	return p, nil
}
