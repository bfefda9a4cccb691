package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cartograph/internal/apperr"
	"cartograph/internal/server"
)

func TestErrorPresenter(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	present := server.PresentError(log)
	cases := []struct {
		name     string
		err      error
		code     string
		hidesMsg bool
	}{
		{"CodedErrorKeepsMessage", fmt.Errorf("wrapped: %w", apperr.BadInput("first", "first must be at most 250")), "BAD_USER_INPUT", false},
		{"PlainErrorBecomesInternal", errors.New("pq: password=hunter2 connection refused"), "INTERNAL", true},
		{"InternalCodedErrorIsScrubbed", apperr.Wrap(errors.New("secret dsn"), apperr.Internal, "database error"), "INTERNAL", true},
		{"PanicIsInternal", server.RecoverPanic(log)(context.Background(), "nil map write"), "INTERNAL", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := present(context.Background(), c.err)
			if g.Extensions["code"] != c.code {
				t.Fatalf("code %v, want %s", g.Extensions["code"], c.code)
			}
			if c.hidesMsg && (strings.Contains(g.Message, "hunter2") || strings.Contains(g.Message, "secret") || strings.Contains(g.Message, "nil map")) {
				t.Fatalf("internal detail leaked: %q", g.Message)
			}
		})
	}
	if !strings.Contains(logged.String(), "hunter2") {
		t.Fatalf("internal error was not logged for operators")
	}
}

func TestHTTPPanicIsRecovered(t *testing.T) {
	// Recovery wraps every route; a handler panic must yield a coded 500.
	h := server.WithRequestLogForTest(slog.New(slog.NewTextHandler(io.Discard, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom: secret")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"INTERNAL"`) || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("got %d %s", rec.Code, rec.Body.String())
	}
}
