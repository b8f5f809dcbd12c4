package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
)

// reopenOnHUP reopens the record file on each SIGHUP, so logrotate (or
// anyone) can rename it and have tlslens write to a new file of the same
// name without losing a record: a record is written whole to the old file
// or to the new one. SIGINT and SIGTERM are main's, through its context.
// The returned func stops listening for SIGHUP.
func reopenOnHUP(records *recordFile, log logrus.FieldLogger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-hup:
				if records.path == "-" || records.path == "" {
					log.Info("SIGHUP: records go to stdout; no file to reopen")
					continue
				}
				if err := records.Reopen(); err != nil {
					log.WithError(err).Error("SIGHUP: reopening the record file; records still go to the old file")
					continue
				}
				log.WithField("path", records.path).Info("SIGHUP: record file reopened")
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
