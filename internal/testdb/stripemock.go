package testdb

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// StripeMockVersion is the pinned stripe-mock (`make test` installs it into
// .data/tools with go install).
const StripeMockVersion = "v0.203.0"

// StripeMock is a running stripe-mock on loopback.
type StripeMock struct {
	URL string
	cmd *exec.Cmd
}

// findStripeMock looks for the binary: $STRIPE_MOCK_BIN, the repository's
// .data/tools/stripe-mock, then PATH.
func findStripeMock() (string, error) {
	if p := os.Getenv("STRIPE_MOCK_BIN"); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	local := filepath.Join(filepath.Dir(file), "..", "..", ".data", "tools", "stripe-mock")
	if _, err := os.Stat(local); err == nil {
		return local, nil
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("stripe-mock not found: run `make test` (it installs github.com/stripe/stripe-mock@%s into .data/tools) or set STRIPE_MOCK_BIN", StripeMockVersion)
}

// StartStripeMock starts stripe-mock on a free loopback port and waits until
// it accepts connections. Stop it with Stop.
func StartStripeMock() (*StripeMock, error) {
	bin, err := findStripeMock()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	// An explicit HTTPS address too: otherwise stripe-mock also binds its
	// default :12112 and exits when another test run holds it.
	cmd := exec.Command(bin, "-http-addr", addr, "-https-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting stripe-mock: %w", err)
	}
	go func() { // drain its log
		s := bufio.NewScanner(out)
		for s.Scan() {
			_ = strings.TrimSpace(s.Text())
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return &StripeMock{URL: "http://" + addr, cmd: cmd}, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, fmt.Errorf("stripe-mock did not listen on %s within 20s", addr)
}

// Stop kills stripe-mock.
func (s *StripeMock) Stop() {
	if s != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}
