package archtest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const root = "../.."

// goFiles lists the non-test Go files under dir.
func goFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNoStorageTypesInGraphOrCmd(t *testing.T) {
	const dbq = "cartograph/internal/dbq"
	cfg, err := os.ReadFile(filepath.Join(root, "gqlgen.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "internal/dbq") {
		t.Errorf("gqlgen.yml binds a GraphQL type to internal/dbq; bind a domain type instead")
	}
	fset := token.NewFileSet()
	for _, dir := range []string{"graph", "cmd"} {
		for _, f := range goFiles(t, dir) {
			af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == dbq {
					t.Errorf("%s imports %s: graph/ and cmd/ use domain packages only", f, dbq)
				}
			}
		}
	}
}

var writeRe = regexp.MustCompile(`(?is)^\s*(?:WITH\b.*?\)\s*)?(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)`)

// writers maps each sqlc query that writes a table to that table.
func writers(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "db", "queries", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	nameRe := regexp.MustCompile(`(?m)^-- name: (\w+) :\w+`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		locs := nameRe.FindAllStringSubmatchIndex(src, -1)
		for i, loc := range locs {
			end := len(src)
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			body := src[loc[1]:end]
			// Drop comment lines before the statement.
			var lines []string
			for _, l := range strings.Split(body, "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), "--") {
					lines = append(lines, l)
				}
			}
			if m := writeRe.FindStringSubmatch(strings.Join(lines, "\n")); m != nil {
				out[src[loc[2]:loc[3]]] = m[2]
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("found no writing queries: the query parser is broken")
	}
	return out
}

// TestEachTableHasOneWriter: every table written through sqlc queries is
// written from exactly one package (house rule 0).
func TestEachTableHasOneWriter(t *testing.T) {
	w := writers(t)
	owners := map[string]map[string]bool{} // table -> packages
	fset := token.NewFileSet()
	for _, f := range goFiles(t, "internal") {
		pkg := filepath.ToSlash(filepath.Dir(strings.TrimPrefix(f, root+"/")))
		if pkg == "internal/dbq" {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if table, ok := w[sel.Sel.Name]; ok {
				if owners[table] == nil {
					owners[table] = map[string]bool{}
				}
				owners[table][pkg] = true
			}
			return true
		})
	}
	if len(owners) < 5 {
		t.Fatalf("found writers for only %d tables: the call scanner is broken", len(owners))
	}
	var tables []string
	for tb := range owners {
		tables = append(tables, tb)
	}
	sort.Strings(tables)
	for _, tb := range tables {
		var pkgs []string
		for p := range owners[tb] {
			pkgs = append(pkgs, p)
		}
		sort.Strings(pkgs)
		if len(pkgs) != 1 {
			t.Errorf("table %s is written by %d packages %v; exactly one package owns each table", tb, len(pkgs), pkgs)
		} else {
			t.Logf("%-22s written by %s", tb, pkgs[0])
		}
	}
}

// The codegen plugin removes the input-unmarshaller map gqlgen's Exec
// builds per operation; graphql.UnmarshalInputFromContext would then fail
// with "the input context is empty", so nothing may call it. Nor may
// anything call FieldContext.Child, which inline fields do not keep.
func TestNoUnmarshalInputFromContext(t *testing.T) {
	for _, dir := range []string{"graph", "internal", "cmd"} {
		for _, f := range goFiles(t, dir) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "UnmarshalInputFromContext(") {
				t.Errorf("%s calls graphql.UnmarshalInputFromContext: the generated Exec no longer builds its map (internal/codegen)", f)
			}
			// Field contexts of inline object fields come from arena frames
			// whose Child returns an error instead of allocating a closure.
			if strings.Contains(string(b), ".Child(ctx") {
				t.Errorf("%s calls FieldContext.Child: inline fields do not keep it (internal/codegen)", f)
			}
		}
	}
}
