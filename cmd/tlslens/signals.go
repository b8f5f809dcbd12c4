package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
)

// reopenOnHUP reopens the record file, and the flow file if any, on each
// SIGHUP, so logrotate (or anyone) can rename them and have tlslens write to
// new files of the same names without losing a line: a record (or flow) is
// written whole to the old file or to the new one. SIGINT and SIGTERM are
// main's, through its context. Nil files are skipped. The returned func
// stops listening for SIGHUP.
func reopenOnHUP(records *recordFile, log logrus.FieldLogger, more ...*recordFile) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-hup:
				for _, f := range append([]*recordFile{records}, more...) {
					if f != nil {
						f.reopenLogged(log)
					}
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-finished
	}
}

// hupLines are what a SIGHUP logs for each file, by its config key: no file
// to reopen (stdout), reopening failed, reopened.
var hupLines = map[string][3]string{
	"records": {"SIGHUP: records go to stdout; no file to reopen",
		"SIGHUP: reopening the record file; records still go to the old file", "SIGHUP: record file reopened"},
	"flows": {"SIGHUP: flows go to stdout; no file to reopen",
		"SIGHUP: reopening the flow file; flows still go to the old file", "SIGHUP: flow file reopened"},
}

// reopenLogged reopens r for SIGHUP, and logs what happened.
func (r *recordFile) reopenLogged(log logrus.FieldLogger) {
	lines := hupLines[r.configKey()]
	if r.path == "-" || r.path == "" {
		log.Info(lines[0])
		return
	}
	if err := r.Reopen(); err != nil {
		log.WithError(err).Error(lines[1])
		return
	}
	log.WithField("path", r.path).Info(lines[2])
}
