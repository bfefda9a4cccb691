// Package faults holds the fault-injection scenarios `make faults` runs
// (.ci/faults.sh): the real cartograph binary is killed with SIGKILL in the
// middle of a burst of checkouts and refunds, its private Redis is stopped
// while the catalog is read, and its private PostgreSQL cluster is
// restarted under load. The scenarios are tests behind the `faults` build
// tag, so `make test` never runs them; each prints PASS/FAIL lines with
// the figures it measured.
package faults
