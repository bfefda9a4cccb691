package server_test

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"cartograph/graph/generated"
	"cartograph/internal/config"
	"cartograph/internal/server"
)

// TestStringInputBounds: every string input is refused BAD_USER_INPUT
// naming the field one character past its bound and accepted at it, inline
// or as a variable, in lists and nested inputs, counted in characters.
func TestStringInputBounds(t *testing.T) {
	e := newEnvWith(t, 0, func(c *config.Config) { c.MaxStringInput = 1500 })
	sf := e.storefront(t, "apparel")
	shop := map[string]string{"X-Shop-Handle": "apparel"}
	a := func(n int) string { return strings.Repeat("a", n) }
	email := func(n int) string { return a(n-len("@example.com")) + "@example.com" }
	const cartNote = `mutation($n: String) { cartCreate(input: {note: $n}) { cart { id note } } }`
	const codes = `mutation($d: [String!]) { cartCreate(input: {discountCodes: $d}) { cart { id } } }`
	const options = `mutation($o: String!) { cartCreate(input: {attributes: [{key: "gift", value: $o}]}) { cart { id } } }`
	cases := []struct {
		name    string
		h       map[string]string
		query   func(n int) (string, map[string]any)
		max     int
		field   []string
		noticed bool // the N request must also succeed without any error
	}{
		{"VariableNoteDefaultBound", sf, func(n int) (string, map[string]any) { return cartNote, map[string]any{"n": a(n)} }, 1500, []string{"input", "note"}, true},
		{"InlineEmail254", shop, func(n int) (string, map[string]any) {
			return `mutation { customerLogin(input: {email: "` + email(n) + `", password: "x"}) { accessToken } }`, nil
		}, 254, []string{"input", "email"}, false},
		{"ListElement255", sf, func(n int) (string, map[string]any) { return codes, map[string]any{"d": []any{"ok", a(n)}} }, 255, []string{"input", "discountCodes", "1"}, true},
		{"MultibyteCountsCharacters", sf, func(n int) (string, map[string]any) {
			return codes, map[string]any{"d": []any{strings.Repeat("ü", n)}}
		}, 255, []string{"input", "discountCodes", "0"}, true},
		{"CursorArgument1024", shop, func(n int) (string, map[string]any) {
			return `{ products(first: 1, after: "` + a(n) + `") { nodes { id } } }`, nil
		}, 1024, []string{"after"}, false},
		{"AttributeValueDefault", sf, func(n int) (string, map[string]any) { return options, map[string]any{"o": a(n)} }, 1500, []string{"input", "attributes", "0", "value"}, true},
		{"CoordinateWinsOverName", shop, func(n int) (string, map[string]any) {
			return `query($v: String!) { product(handle: "cashmere-beanie") { variantBySelectedOptions(selectedOptions: [{name: "Size", value: $v}]) { id } } }`, map[string]any{"v": a(n)}
		}, 255, []string{"selectedOptions", "0", "value"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, v := tc.query(tc.max)
			r := e.do(t, tc.h, q, v)
			for _, er := range r.Errors {
				if strings.Contains(er.Message, "longer than") {
					t.Fatalf("at the bound (%d) refused: %+v", tc.max, r.Errors)
				}
			}
			if tc.noticed && len(r.Errors) > 0 {
				t.Fatalf("at the bound: %+v", r.Errors)
			}
			q, v = tc.query(tc.max + 1)
			r = e.do(t, tc.h, q, v)
			if r.code() != "BAD_USER_INPUT" || r.Status != 200 && r.Status != 400 {
				t.Fatalf("one past the bound: status %d %+v", r.Status, r.Errors)
			}
			if string(r.Data) != "" && string(r.Data) != "null" {
				t.Fatalf("one past the bound executed: %s", r.Data)
			}
			ext := r.Errors[0].Extensions
			var field []string
			for _, f := range ext["field"].([]any) {
				field = append(field, f.(string))
			}
			if !reflect.DeepEqual(field, tc.field) || ext["maxLength"] != float64(tc.max) {
				t.Fatalf("want field %v maxLength %d, got %v %v", tc.field, tc.max, ext["field"], ext["maxLength"])
			}
			if want := strings.Join(tc.field, ".") + " is longer than " + strconv.Itoa(tc.max) + " characters"; r.Errors[0].Message != want {
				t.Fatalf("message %q, want %q", r.Errors[0].Message, want)
			}
		})
	}
}

// TestStringBoundsTable: every entry of the bounds table names an input
// field or argument that exists (no stale entries), and the README
// documents each one.
func TestStringBoundsTable(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	names, coords := map[string]bool{}, map[string]bool{}
	for _, def := range schema.Types {
		for _, f := range def.Fields {
			if def.Kind == "INPUT_OBJECT" {
				names[f.Name], coords[def.Name+"."+f.Name] = true, true
			}
			for _, a := range f.Arguments {
				names[a.Name], coords[def.Name+"."+f.Name+"("+a.Name+")"] = true, true
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range server.StringBounds {
		if !names[k] && !coords[k] {
			t.Errorf("StringBounds[%q] names no input field or argument", k)
		}
		if !strings.Contains(string(readme), "`"+k+"` | "+strconv.Itoa(n)+" |") {
			t.Errorf("README does not document `%s` | %d |", k, n)
		}
	}
}
