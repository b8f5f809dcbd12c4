package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// -swap N: the -external comparison of tlslens with base, run N times as
// given and N times with the two processes' places exchanged, alternately.
// A place (the first column or the second, started first or second) can
// favour its process by a per cent or two in one run; averaged over both
// places that cancels, and N runs each way narrow a single run's noise of
// a few per cent to the standard error printed.

// swapped returns c with tlslens and base exchanged: binaries, flags and
// config lines. Its -against is always set, so its base always runs.
func swapped(c config) config {
	s := c
	s.external, s.against = cmp.Or(c.against, c.external), c.external
	s.externalArgs, s.againstArgs = c.againstArgs, c.externalArgs
	s.externalYAML, s.againstYAML = c.againstYAML, c.externalYAML
	return s
}

// swapRun is one run's tlslens ÷ base per measure, with tlslens in its own
// place (the swapped runs' ratios inverted): rate, and CPU per operation
// over the whole run.
type swapRun map[string][2]float64

func runSwap(c config, stdout, stderr io.Writer) error {
	if c.againstEnv != "" || c.peer != "" || c.pprofDir != "" || c.events || c.json {
		return errors.New("-swap goes with -external and a base (-against, -against-args or -against-config), without -against-env, -peer, -pprof, -events and -json")
	}
	if c.against == "" && c.againstArgs == "" && c.againstYAML == "" {
		return errors.New("-swap needs a base to exchange places with: -against, -against-args or -against-config")
	}
	var runs []swapRun
	var measures []string
	for i := range 2 * c.swap {
		rc, inverted := c, i%2 == 1
		if inverted {
			rc = swapped(c)
		}
		rc.swap, rc.json = 0, true
		fmt.Fprintf(stderr, "run %d of %d (%s)\n", i+1, 2*c.swap, map[bool]string{false: "as given", true: "places exchanged"}[inverted])
		var out bytes.Buffer
		if err := runExternal(rc, &out, stderr); err != nil {
			return err
		}
		var rep externalReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		run := swapRun{}
		for _, m := range rep.Measures {
			if m.TLSLensPerBase == nil || m.ProxyCPUWhole["base"] == 0 {
				continue
			}
			rate, cpu := m.TLSLensPerBase.Median, m.ProxyCPUWhole["tlslens"]/m.ProxyCPUWhole["base"]
			if inverted {
				rate, cpu = 1/rate, 1/cpu
			}
			run[m.Measure] = [2]float64{rate, cpu}
			if !slices.Contains(measures, m.Measure) {
				measures = append(measures, m.Measure)
			}
		}
		runs = append(runs, run)
	}
	fmt.Fprintf(stdout, "tlslens (%s) ÷ base (%s), %d runs each way, places exchanged every other run (its ratios inverted):\n\n",
		describe(c.external, "", c.externalArgs, c.externalYAML), describe(cmp.Or(c.against, c.external), "", c.againstArgs, c.againstYAML), c.swap)
	fmt.Fprintln(stdout, "| measure | tlslens ÷ base, each run | mean (sd, se) | min-max | CPU per op, whole run, mean (sd, se) |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|")
	for _, name := range measures {
		var rates, cpus []float64
		var each bytes.Buffer
		for i, r := range runs {
			v, ok := r[name]
			if !ok {
				continue
			}
			rates, cpus = append(rates, v[0]), append(cpus, v[1])
			mark := ""
			if i%2 == 1 {
				mark = "*"
			}
			fmt.Fprintf(&each, " x%.3f%s", v[0], mark)
		}
		mr, sr := meanSD(rates)
		mc, sc := meanSD(cpus)
		n := math.Sqrt(float64(len(rates)))
		fmt.Fprintf(stdout, "| %s |%s | x%.3f (%.3f, %.3f) | x%.3f-x%.3f | x%.3f (%.3f, %.3f) |\n",
			name, each.String(), mr, sr, sr/n, slices.Min(rates), slices.Max(rates), mc, sc, sc/n)
	}
	fmt.Fprintln(stdout, "\n* places exchanged: base ran as the first process, and its ratio is inverted.")
	return nil
}

// meanSD returns the mean of v and its sample standard deviation.
func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}
