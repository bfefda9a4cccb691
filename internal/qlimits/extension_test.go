package qlimits_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cartograph/internal/apperr"
	"cartograph/internal/qlimits"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

func TestExtensionMutateOperationParameters(t *testing.T) {
	ext := qlimits.Extension{}
	cases := []struct {
		name  string
		query string
		limit string // "" for no error
	}{
		{"EmptyQuerySkipped", "", ""},
		{"ListingPasses", listingDoc, ""},
		{"DeepDocumentRefusedWithCodedError", depthDoc(500), "depth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gerr := ext.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: c.query})
			if c.limit == "" {
				if gerr != nil {
					t.Fatalf("refused: %v", gerr)
				}
				return
			}
			if gerr == nil {
				t.Fatal("admitted")
			}
			ae, ok := apperr.As(gerr)
			if !ok || ae.Code != qlimits.Code {
				t.Fatalf("Err is %T %v, want the coded error", gerr.Err, gerr.Err)
			}
			if gerr.Extensions["code"] != string(qlimits.Code) || gerr.Extensions["limit"] != c.limit || gerr.Message != ae.Message {
				t.Fatalf("gqlerror %q %v", gerr.Message, gerr.Extensions)
			}
		})
	}
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func post(t *testing.T, url string, body map[string]any) (int, gqlResponse) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, r
}

func apq(query string) map[string]any {
	sum := sha256.Sum256([]byte(query))
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
}

// TestExtensionInGqlgen runs the extension in a real gqlgen handler with the
// APQ extension registered first, as the server must: a hostile document is
// refused when sent in full and again when later requested by hash only
// (APQ cached it before the limits ran, and fills it in before they run).
func TestExtensionInGqlgen(t *testing.T) {
	srv := testserver.New()
	srv.AddTransport(transport.POST{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(qlimits.Extension{})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	hostile := "{ " + strings.Repeat("name ", 5000) + "}"
	cases := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"NormalQueryAnswered", map[string]any{"query": "{ name }"}, http.StatusOK, ""},
		{"HostileQueryRefused", map[string]any{"query": hostile}, http.StatusBadRequest, string(qlimits.Code)},
		{"HostileAPQWithQueryRefused", map[string]any{"query": hostile, "extensions": apq(hostile)}, http.StatusBadRequest, string(qlimits.Code)},
		{"HostileAPQByHashRefused", map[string]any{"extensions": apq(hostile)}, http.StatusBadRequest, string(qlimits.Code)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, r := post(t, ts.URL, c.body)
			if status != c.status {
				t.Errorf("status %d, want %d", status, c.status)
			}
			if c.code == "" {
				if len(r.Errors) != 0 {
					t.Fatalf("errors %+v", r.Errors)
				}
				return
			}
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != c.code || r.Errors[0].Extensions["limit"] != "fieldRepeats" {
				t.Fatalf("errors %+v", r.Errors)
			}
			if r.Data != nil && string(r.Data) != "null" {
				t.Fatalf("data %s", r.Data)
			}
		})
	}
}
