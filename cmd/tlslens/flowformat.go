package main

import (
	"io"

	"github.com/sirupsen/logrus"

	"github.com/tlslens/tlslens/proxy"
)

// newFlowLogger writes flows as JSON Lines with millisecond times, as
// newRecordLogger writes records, through proxy.FlowFormatter: the same
// lines as logrus's JSON formatter, for less than half its cost.
func newFlowLogger(w io.Writer) *logrus.Logger {
	l := logrus.New()
	l.Out = w
	l.Formatter = proxy.FlowFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"}
	return l
}
