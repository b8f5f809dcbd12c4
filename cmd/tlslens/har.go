package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tlslens/tlslens/inspect"
	"github.com/tlslens/tlslens/inspect/report"
)

// reportHAR is `tlslens report --format har RECORDS FLOWS`: a HAR 1.2 log of
// every flow in FLOWS, each joined to its connection's record in RECORDS.
func reportHAR(files []string, stdout io.Writer) error {
	if len(files) != 2 {
		return errors.New("report: --format har takes two files: RECORDS FLOWS (the record file and the flow file)")
	}
	flows, err := readHARInput(files[1], report.ReadFlows)
	if err != nil {
		return err
	}
	ids := make(map[string]bool, len(flows))
	for _, f := range flows {
		ids[f.ID] = true
	}
	recs, err := readHARInput(files[0], func(r io.Reader) ([]*inspect.Record, error) {
		return report.ReadRecords(r, func(id string) bool { return ids[id] })
	})
	if err != nil {
		return err
	}
	b, err := report.HAR(recs, flows, version())
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(b, '\n'))
	return err
}

// readHARInput opens name and decodes it with read.
func readHARInput[T any](name string, read func(io.Reader) ([]T, error)) ([]T, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", name, err)
	}
	return v, nil
}
