package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func sha(doc string) string {
	h := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(h[:])
}

type policyOut struct {
	APIPolicyUpdate struct {
		APIPolicy *struct {
			TrustedDocumentsOnly bool `json:"trustedDocumentsOnly"`
			MaxQueryCost         *int `json:"maxQueryCost"`
		} `json:"apiPolicy"`
		UserErrors []struct {
			Field []string `json:"field"`
			Code  string   `json:"code"`
		} `json:"userErrors"`
	} `json:"apiPolicyUpdate"`
}

const policyUpdate = `mutation($in: ApiPolicyInput!) { apiPolicyUpdate(input: $in) { apiPolicy { trustedDocumentsOnly maxQueryCost } userErrors { field code } } }`

type registerOut struct {
	TrustedDocumentsRegister struct {
		Documents []struct {
			ID   string  `json:"id"`
			Name *string `json:"name"`
			Size int     `json:"size"`
		} `json:"documents"`
		UserErrors []struct {
			Field []string `json:"field"`
			Code  string   `json:"code"`
		} `json:"userErrors"`
	} `json:"trustedDocumentsRegister"`
}

const registerDocs = `mutation($d: [TrustedDocumentInput!]!) { trustedDocumentsRegister(documents: $d) { documents { id name size } userErrors { field code } } }`

func TestTrustedDocuments(t *testing.T) {
	e := newEnvWith(t, 0, strictCost)
	staff := e.staff(t, "apparel")
	anon := map[string]string{"X-Shop-Handle": "apparel"}
	pk := e.storefront(t, "apparel")
	const unregistered = `{ shop { name } products(first: 1) { nodes { handle } } }`
	count := func() (n int) {
		t.Helper()
		if err := e.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM trusted_documents").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	byID := func(h map[string]string, id string) *gqlResponse {
		body, _ := json.Marshal(map[string]any{"documentId": id})
		return e.raw(t, "/graphql", h, body)
	}
	apq := func(h map[string]string, query, hash string) *gqlResponse {
		m := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
		if query != "" {
			m["query"] = query
		}
		body, _ := json.Marshal(m)
		return e.raw(t, "/graphql", h, body)
	}

	t.Run("OnlyOwnersManage", func(t *testing.T) {
		r := e.do(t, pk, registerDocs, map[string]any{"d": []any{map[string]any{"body": listingDoc}}})
		if c := r.code(); c != "FORBIDDEN" && c != "UNAUTHENTICATED" {
			t.Fatalf("public key registered a document: %+v", r)
		}
		if n := count(); n != 0 {
			t.Fatalf("%d documents stored", n)
		}
	})

	t.Run("TrustedOnlyNeedsDocuments", func(t *testing.T) {
		var out policyOut
		mustData(t, e.do(t, staff, policyUpdate, map[string]any{"in": map[string]any{"trustedDocumentsOnly": true}}), &out)
		if ues := out.APIPolicyUpdate.UserErrors; len(ues) != 1 || ues[0].Code != "NO_TRUSTED_DOCUMENTS" || out.APIPolicyUpdate.APIPolicy != nil {
			t.Fatalf("policy %+v", out)
		}
		// nothing changed: an unregistered document still runs
		if r := e.do(t, anon, unregistered, nil); r.Status != 200 || len(r.Errors) > 0 {
			t.Fatalf("status %d %+v", r.Status, r.Errors)
		}
	})

	t.Run("RegistrationIsValidatedAllOrNothing", func(t *testing.T) {
		bad := []struct {
			doc  map[string]any
			code string
		}{
			{map[string]any{"body": `{ noSuchField }`}, "INVALID_DOCUMENT"},
			{map[string]any{"body": `{ shop { name }`}, "INVALID_DOCUMENT"},
			{map[string]any{"body": "  "}, "BLANK"},
			{map[string]any{"body": listingDoc, "id": "sha256:" + sha("other")}, "HASH_MISMATCH"},
			{map[string]any{"body": `{ shop { name } }`, "name": strings.Repeat("n", 300)}, "INVALID"},
		}
		for _, b := range bad {
			var out registerOut
			mustData(t, e.do(t, staff, registerDocs, map[string]any{"d": []any{map[string]any{"body": listingDoc}, b.doc}}), &out)
			ues := out.TrustedDocumentsRegister.UserErrors
			if len(ues) != 1 || ues[0].Code != b.code || len(ues[0].Field) < 2 || ues[0].Field[1] != "1" {
				t.Fatalf("%v: user errors %+v", b.doc, ues)
			}
			if n := count(); n != 0 {
				t.Fatalf("%v: %d documents stored by a refused registration", b.doc, n)
			}
		}
	})

	name := "listing"
	var reg registerOut
	mustData(t, e.do(t, staff, registerDocs, map[string]any{"d": []any{map[string]any{"body": listingDoc, "name": name, "id": "sha256:" + sha(listingDoc)}}}), &reg)
	if d := reg.TrustedDocumentsRegister.Documents; len(d) != 1 || d[0].ID != "sha256:"+sha(listingDoc) || d[0].Size != len(listingDoc) {
		t.Fatalf("register %+v", reg)
	}
	full := e.do(t, anon, listingDoc, nil)
	if full.Status != 200 || len(full.Errors) > 0 {
		t.Fatalf("listing: %d %+v", full.Status, full.Errors)
	}

	t.Run("DocumentIdRunsTheRegisteredDocument", func(t *testing.T) {
		r := byID(anon, "sha256:"+sha(listingDoc))
		if r.Status != 200 || len(r.Errors) > 0 || string(r.Data) != string(full.Data) {
			t.Fatalf("by id: %d %+v %s", r.Status, r.Errors, r.Data)
		}
		// Apollo's persisted-query hash finds it too, without an APQ round.
		if r := apq(pk, "", sha(listingDoc)); r.Status != 200 || string(r.Data) != string(full.Data) {
			t.Fatalf("apq hash: %d %+v", r.Status, r.Errors)
		}
		if r := byID(anon, "sha256:"+sha("unknown")); r.Status != 400 || r.code() != "DOCUMENT_NOT_TRUSTED" {
			t.Fatalf("unknown id: %d %+v", r.Status, r.Errors)
		}
		if r := byID(anon, "md5:abc"); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("malformed id: %d %+v", r.Status, r.Errors)
		}
		// another shop's document is not this shop's
		if r := byID(map[string]string{"X-Shop-Handle": "electronics"}, "sha256:"+sha(listingDoc)); r.code() != "DOCUMENT_NOT_TRUSTED" {
			t.Fatalf("foreign shop ran apparel's document: %+v", r)
		}
	})

	var pol policyOut
	mustData(t, e.do(t, staff, policyUpdate, map[string]any{"in": map[string]any{"trustedDocumentsOnly": true}}), &pol)
	if p := pol.APIPolicyUpdate.APIPolicy; p == nil || !p.TrustedDocumentsOnly {
		t.Fatalf("policy %+v", pol)
	}

	t.Run("TrustedOnlyRefusesEverythingElseBeforeAnySQL", func(t *testing.T) {
		e.do(t, anon, `{ shop { name } }`, nil) // loads the shop's policy and hash set (cached for 5 s)
		for _, h := range []map[string]string{anon, pk} {
			before := e.db.AppStats.Statements()
			r := e.do(t, h, unregistered, nil)
			if r.Status != 400 || r.code() != "DOCUMENT_NOT_TRUSTED" || len(r.Data) > 0 && string(r.Data) != "null" {
				t.Fatalf("unregistered document: %d %+v %s", r.Status, r.Errors, r.Data)
			}
			if got := e.db.AppStats.Statements() - before; got != 0 {
				t.Fatalf("refusal ran %d statements", got)
			}
			// hash-only and APQ registration of an unregistered document
			if r := apq(h, "", sha(unregistered)); r.code() != "DOCUMENT_NOT_TRUSTED" {
				t.Fatalf("apq hash of unregistered: %+v", r)
			}
			if r := apq(h, unregistered, sha(unregistered)); r.code() != "DOCUMENT_NOT_TRUSTED" {
				t.Fatalf("apq registration of unregistered: %+v", r)
			}
			// the registered document still runs, by text or by id
			if r := e.do(t, h, listingDoc, nil); r.Status != 200 || string(r.Data) != string(full.Data) {
				t.Fatalf("registered by text: %d %+v", r.Status, r.Errors)
			}
			if r := byID(h, "sha256:"+sha(listingDoc)); r.Status != 200 || string(r.Data) != string(full.Data) {
				t.Fatalf("registered by id: %d %+v", r.Status, r.Errors)
			}
		}
		// staff tooling is not held to the list; other shops are unaffected
		if r := e.do(t, staff, unregistered, nil); r.Status != 200 || len(r.Errors) > 0 {
			t.Fatalf("staff: %d %+v", r.Status, r.Errors)
		}
		if r := e.do(t, map[string]string{"X-Shop-Handle": "electronics"}, unregistered, nil); r.Status != 200 || len(r.Errors) > 0 {
			t.Fatalf("other shop: %d %+v", r.Status, r.Errors)
		}
	})

	t.Run("RemovedDocumentsStopRunning", func(t *testing.T) {
		var out struct {
			TrustedDocumentsRemove struct{ Removed int } `json:"trustedDocumentsRemove"`
		}
		// keep one document so the policy stays satisfiable
		mustData(t, e.do(t, staff, registerDocs, map[string]any{"d": []any{map[string]any{"body": `{ shop { name } }`}}}), nil)
		mustData(t, e.do(t, staff, `mutation($ids: [String!]!) { trustedDocumentsRemove(ids: $ids) { removed } }`,
			map[string]any{"ids": []string{"sha256:" + sha(listingDoc), "sha256:" + sha("never registered")}}), &out)
		if out.TrustedDocumentsRemove.Removed != 1 {
			t.Fatalf("removed %d", out.TrustedDocumentsRemove.Removed)
		}
		if r := byID(anon, "sha256:"+sha(listingDoc)); r.code() != "DOCUMENT_NOT_TRUSTED" {
			t.Fatalf("removed document ran: %+v", r)
		}
		if r := e.do(t, anon, listingDoc, nil); r.code() != "DOCUMENT_NOT_TRUSTED" {
			t.Fatalf("removed document ran by text: %+v", r)
		}
		var list struct {
			TrustedDocuments struct {
				Nodes []struct{ ID string } `json:"nodes"`
			} `json:"trustedDocuments"`
		}
		mustData(t, e.do(t, staff, `{ trustedDocuments(first: 10) { nodes { id } } }`, nil), &list)
		if n := list.TrustedDocuments.Nodes; len(n) != 1 || n[0].ID != "sha256:"+sha(`{ shop { name } }`) {
			t.Fatalf("list %+v", n)
		}
	})

	t.Run("ShopCostLimits", func(t *testing.T) {
		var out policyOut
		mustData(t, e.do(t, staff, policyUpdate, map[string]any{"in": map[string]any{"trustedDocumentsOnly": false, "maxQueryCost": 50}}), &out)
		if p := out.APIPolicyUpdate.APIPolicy; p == nil || p.TrustedDocumentsOnly || p.MaxQueryCost == nil || *p.MaxQueryCost != 50 {
			t.Fatalf("policy %+v", out)
		}
		r := costPost(t, e.srv.URL, queryBody(listingDoc), nil)
		if r.status != http.StatusBadRequest || len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "MAX_COST_EXCEEDED" ||
			r.Errors[0].Extensions["cost"].(map[string]any)["maximumQueryCost"] != float64(50) {
			t.Fatalf("over the shop's limit: %d %s", r.status, r.raw)
		}
		if r := costPost(t, e.srv.URL, queryBody(`{ shop { name } }`), nil); r.status != 200 {
			t.Fatalf("under the shop's limit: %d %s", r.status, r.raw)
		}
		// staff keep the trusted maximum; other shops the default
		if r := e.do(t, staff, listingDoc, nil); r.Status != 200 || len(r.Errors) > 0 {
			t.Fatalf("staff: %d %+v", r.Status, r.Errors)
		}
		if r := e.do(t, map[string]string{"X-Shop-Handle": "electronics"}, listingDoc, nil); r.Status != 200 || len(r.Errors) > 0 {
			t.Fatalf("other shop: %d %+v", r.Status, r.Errors)
		}
		bad := e.do(t, staff, policyUpdate, map[string]any{"in": map[string]any{"trustedDocumentsOnly": false, "costBucketMax": 0}})
		var b policyOut
		mustData(t, bad, &b)
		if ues := b.APIPolicyUpdate.UserErrors; len(ues) != 1 || ues[0].Code != "INVALID" {
			t.Fatalf("zero bucket accepted: %+v", b)
		}
	})
}
