// Command benchtool holds the small jobs .ci/bench.sh cannot do well in shell:
// building vegeta JSON targets, checking a GraphQL response, reading vegeta's
// JSON report, /debug/sqlstats and CPU ticks from /proc.
//
//	benchtool targets -url U -shop S -query F [-vars JSON] [-rotate VAR -prefix P -n N] -out FILE
//	benchtool check   -url U -shop S -query F [-vars JSON] [-rotate VAR -prefix P]
//	benchtool vreport FILE            -> shell assignments V_REQUESTS=... V_P50_MS=...
//	benchtool sqlstats URL            -> "REQUESTS STATEMENTS" (exit 3 when unavailable)
//	benchtool ticks pid N             -> utime+stime of one process, in clock ticks
//	benchtool live                    -> subscription fan-out driver (live.go; JSON result)
//	benchtool wsidle                  -> RSS and goroutines per idle websocket subscription, one instance (wsidle.go)
//	benchtool ticks comm PREFIX       -> utime+stime+cutime+cstime summed over processes whose comm starts with PREFIX
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: benchtool targets|check|vreport|sqlstats|ticks ...")
	}
	var err error
	switch os.Args[1] {
	case "targets":
		err = cmdTargets(os.Args[2:])
	case "check":
		err = cmdCheck(os.Args[2:])
	case "vreport":
		err = cmdVReport(os.Args[2:])
	case "sqlstats":
		err = cmdSQLStats(os.Args[2:])
	case "ticks":
		err = cmdTicks(os.Args[2:])
	case "live":
		err = cmdLive(os.Args[2:])
	case "wsidle":
		err = cmdWSIdle(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			fmt.Fprintln(os.Stderr, "benchtool:", ec.msg)
			os.Exit(ec.code)
		}
		fail(err.Error())
	}
}

type exitCode struct {
	code int
	msg  string
}

func (e exitCode) Error() string { return e.msg }

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "benchtool:", msg)
	os.Exit(1)
}

// ---------------------------------------------------------------- requests

type reqFlags struct {
	url, shop, queryFile, vars, rotate, prefix, out string
	n                                               int
	headers                                         multi
	lists                                           multi
	uniq                                            string
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func parseReqFlags(name string, args []string) (*reqFlags, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := &reqFlags{}
	fs.StringVar(&f.url, "url", "", "GraphQL endpoint")
	fs.StringVar(&f.shop, "shop", "", "X-Shop-Handle header value")
	fs.StringVar(&f.queryFile, "query", "", "file holding the GraphQL query")
	fs.StringVar(&f.vars, "vars", "{}", "variables, a JSON object")
	fs.StringVar(&f.rotate, "rotate", "", "variable set to PREFIX1..PREFIXn, one target each")
	fs.StringVar(&f.prefix, "prefix", "", "prefix of the rotated value")
	fs.IntVar(&f.n, "n", 1, "number of rotated values")
	fs.StringVar(&f.out, "out", "", "output file (targets)")
	fs.Var(&f.headers, "header", "extra request header Name:Value (repeatable)")
	fs.Var(&f.lists, "list", "VAR=FILE: target i sets VAR to line i (mod count) of FILE (repeatable)")
	fs.StringVar(&f.uniq, "uniq", "", "variable set to a value unique to each target (idempotency keys)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.url == "" || f.shop == "" || f.queryFile == "" {
		return nil, errors.New(name + ": -url, -shop and -query are required")
	}
	return f, nil
}

// bodies returns the GraphQL request bodies: one, or one per rotated value.
func (f *reqFlags) bodies() ([][]byte, error) {
	q, err := os.ReadFile(f.queryFile)
	if err != nil {
		return nil, err
	}
	query := strings.TrimSpace(string(q))
	var vars map[string]any
	if err := json.Unmarshal([]byte(f.vars), &vars); err != nil {
		return nil, fmt.Errorf("-vars: %w", err)
	}
	if vars == nil {
		vars = map[string]any{}
	}
	n := 1
	if f.rotate != "" || len(f.lists) > 0 || f.uniq != "" {
		if f.n < 1 {
			return nil, errors.New("-n must be >= 1")
		}
		n = f.n
	}
	lists := map[string][]string{}
	for _, l := range f.lists {
		name, file, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("-list %q: want VAR=FILE", l)
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		vals := strings.Fields(string(raw))
		if len(vals) == 0 {
			return nil, fmt.Errorf("-list %s: %s is empty", name, file)
		}
		lists[name] = vals
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	out := make([][]byte, 0, n)
	for i := 1; i <= n; i++ {
		if f.rotate != "" {
			vars[f.rotate] = f.prefix + strconv.Itoa(i)
		}
		for name, vals := range lists {
			vars[name] = vals[(i-1)%len(vals)]
		}
		if f.uniq != "" {
			vars[f.uniq] = "bench-" + run + "-" + strconv.Itoa(i)
		}
		b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (f *reqFlags) headerMap() map[string][]string {
	h := map[string][]string{
		"Content-Type":  {"application/json"},
		"Accept":        {"application/json"},
		"X-Shop-Handle": {f.shop},
	}
	for _, kv := range f.headers {
		if k, v, ok := strings.Cut(kv, ":"); ok {
			h[strings.TrimSpace(k)] = []string{strings.TrimSpace(v)}
		}
	}
	return h
}

func cmdTargets(args []string) error {
	f, err := parseReqFlags("targets", args)
	if err != nil {
		return err
	}
	if f.out == "" {
		return errors.New("targets: -out is required")
	}
	bodies, err := f.bodies()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, b := range bodies {
		// vegeta -format=json: body is base64, header values are lists.
		t := map[string]any{
			"method": "POST",
			"url":    f.url,
			"body":   base64.StdEncoding.EncodeToString(b),
			"header": f.headerMap(),
		}
		if err := enc.Encode(t); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(f.out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(f.out, buf.Bytes(), 0o644)
}

// cmdCheck sends the first request once and fails unless the answer is HTTP
// 200 with a "data" member and no "errors": load against error responses
// measures nothing.
func cmdCheck(args []string) error {
	f, err := parseReqFlags("check", args)
	if err != nil {
		return err
	}
	f.n = 1
	bodies, err := f.bodies()
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, f.url, bytes.NewReader(bodies[0]))
	if err != nil {
		return err
	}
	for k, v := range f.headerMap() {
		req.Header.Set(k, v[0])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	show := string(raw)
	if len(show) > 2000 {
		show = show[:2000] + "..."
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, show)
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("response is not JSON (%v): %s", err, show)
	}
	if len(r.Errors) > 0 && string(r.Errors) != "null" && string(r.Errors) != "[]" {
		return fmt.Errorf("GraphQL errors: %s", show)
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return fmt.Errorf("no data: %s", show)
	}
	fmt.Fprintf(os.Stderr, "benchtool: check ok (%d bytes)\n", len(raw))
	return nil
}

// ---------------------------------------------------------------- reports

func cmdVReport(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: vreport FILE")
	}
	raw, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var r struct {
		Latencies map[string]float64 `json:"latencies"` // nanoseconds
		Requests  uint64             `json:"requests"`
		Rate      float64            `json:"rate"`
		Through   float64            `json:"throughput"`
		Success   float64            `json:"success"`
		Duration  float64            `json:"duration"` // nanoseconds
		Status    map[string]uint64  `json:"status_codes"`
		Errors    []string           `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	ms := func(k string) string { return strconv.FormatFloat(r.Latencies[k]/1e6, 'f', 2, 64) }
	codes := make([]string, 0, len(r.Status))
	for c, n := range r.Status {
		codes = append(codes, fmt.Sprintf("%s:%d", c, n))
	}
	firstErr := ""
	if len(r.Errors) > 0 {
		firstErr = r.Errors[0]
	}
	fmt.Printf("V_REQUESTS=%d\n", r.Requests)
	fmt.Printf("V_RATE=%.1f\n", r.Rate)
	fmt.Printf("V_THROUGHPUT=%.1f\n", r.Through)
	fmt.Printf("V_SUCCESS=%.4f\n", r.Success)
	fmt.Printf("V_DURATION_S=%.2f\n", r.Duration/1e9)
	fmt.Printf("V_MEAN_MS=%s\nV_P50_MS=%s\nV_P90_MS=%s\nV_P95_MS=%s\nV_P99_MS=%s\nV_MAX_MS=%s\n",
		ms("mean"), ms("50th"), ms("90th"), ms("95th"), ms("99th"), ms("max"))
	fmt.Printf("V_CODES=%s\n", shellQuote(strings.Join(codes, ",")))
	fmt.Printf("V_FIRST_ERROR=%s\n", shellQuote(firstErr))
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func cmdSQLStats(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: sqlstats URL")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(args[0])
	if err != nil {
		return exitCode{3, err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return exitCode{3, fmt.Sprintf("%s: HTTP %d", args[0], resp.StatusCode)}
	}
	var s struct {
		Requests   *float64 `json:"requests"`
		Statements *float64 `json:"statements"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.Requests == nil || s.Statements == nil {
		return exitCode{3, fmt.Sprintf("%s: want {\"requests\":R,\"statements\":S}, got %.200s", args[0], raw)}
	}
	fmt.Printf("%.0f %.0f\n", *s.Requests, *s.Statements)
	return nil
}

// ---------------------------------------------------------------- /proc

func cmdTicks(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: ticks pid N | ticks comm PREFIX")
	}
	switch args[0] {
	case "pid":
		_, t, _, err := procTicks(args[1])
		if err != nil {
			return err
		}
		fmt.Println(t)
	case "comm":
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return err
		}
		var sum uint64
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			comm, t, children, err := procTicks(e.Name())
			if err != nil { // exited meanwhile
				continue
			}
			// Children's time counts too: a backend that exited during
			// the phase (a closed connection) keeps its CPU time only
			// in the cutime/cstime of the postmaster that reaped it.
			if strings.HasPrefix(comm, args[1]) {
				sum += t + children
			}
		}
		fmt.Println(sum)
	default:
		return errors.New("usage: ticks pid N | ticks comm PREFIX")
	}
	return nil
}

// procTicks returns comm, utime+stime (fields 14 and 15 of /proc/PID/stat) and
// cutime+cstime (16 and 17: reaped children).
func procTicks(pid string) (comm string, own, children uint64, err error) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", 0, 0, err
	}
	s := string(raw)
	lp, rp := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if lp < 0 || rp < lp {
		return "", 0, 0, fmt.Errorf("/proc/%s/stat: unexpected format", pid)
	}
	fields := strings.Fields(s[rp+1:]) // fields[0] is field 3 (state)
	if len(fields) < 15 {
		return "", 0, 0, fmt.Errorf("/proc/%s/stat: too few fields", pid)
	}
	var v [4]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(fields[11+i], 10, 64); err != nil {
			return "", 0, 0, fmt.Errorf("/proc/%s/stat: field %d: %w", pid, 14+i, err)
		}
	}
	return s[lp+1 : rp], v[0] + v[1], v[2] + v[3], nil
}
