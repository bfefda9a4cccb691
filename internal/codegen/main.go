// Command codegen runs gqlgen (pinned v0.17.95) with gqlgen.yml plus one
// plugin of ours, so `make generate` stays the only way generated code
// changes.
//
// The plugin honours the SDL directive @synchronous on an object type: its
// resolver fields are executed inline instead of one goroutine per field.
// Use it only on types whose resolvers read dataloaders their parent primes
// (Product, ProductVariant): a goroutine there buys nothing but scheduling,
// stack growth and allocation (GUIDE §5).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"
	"golang.org/x/tools/imports"
)

type synchronous struct {
	// inline holds the object types whose whole subtree resolves without
	// goroutines; lists of them are marshalled inline too.
	inline map[string]bool
	// leaves holds "Object_field" for plain leaf fields: a struct field or a
	// context-free method returning a scalar or enum, without arguments,
	// directives or a resolver.
	leaves map[string]bool
	// objects holds "Object_field" for plain object fields (a struct field
	// or context-free method returning an object or a list of objects,
	// without arguments, directives or a resolver): resolved without
	// gqlgen's closures and middleware chain, cost recorded directly.
	objects map[string]bool
}

func (*synchronous) Name() string { return "synchronous" }

// GenerateCode runs before gqlgen renders the executor, so flipping
// DisableConcurrency here changes the generated code for those objects.
func (p *synchronous) GenerateCode(data *codegen.Data) error {
	objs := map[string]*codegen.Object{}
	for _, o := range data.Objects {
		if o.Definition.Directives.ForName("synchronous") != nil {
			o.DisableConcurrency = true
		}
		objs[o.Name] = o
	}
	p.inline = map[string]bool{}
	p.leaves = map[string]bool{}
	p.objects = map[string]bool{}
	for _, o := range data.Objects {
		if o.Root || strings.HasPrefix(o.Name, "__") {
			continue
		}
		for _, f := range o.Fields {
			def := f.TypeReference.Definition
			// A leaf that declares @cost must keep the field middleware: the
			// cost tracker would not see it otherwise.
			priced := f.FieldDefinition != nil && f.FieldDefinition.Directives.ForName("cost") != nil
			// Directives that only exist for the SDL (skip_runtime: @synchronous on
			// the field's type, @cost, @listSize) generate no middleware.
			runtimeDirective := false
			for _, d := range f.Directives {
				runtimeDirective = runtimeDirective || !d.SkipRuntime
			}
			plain := def != nil && !f.IsResolver && !f.MethodHasContext && len(f.Args) == 0 && !runtimeDirective
			if plain && def.IsLeafType() && !priced {
				p.leaves[o.Name+"_"+f.Name] = true
			}
			if plain && def.Kind == ast.Object && !strings.HasPrefix(def.Name, "__") {
				p.objects[o.Name+"_"+f.Name] = true
			}
		}
	}
	// An interface or union is inline when every type that implements it is.
	abstract := map[string][]string{}
	for name, i := range data.Interfaces {
		for _, impl := range i.Implementors {
			abstract[name] = append(abstract[name], impl.Name)
		}
	}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string) bool
	visit = func(name string) bool {
		o, ok := objs[name]
		if !ok {
			impls, isAbstract := abstract[name]
			if !isAbstract || len(impls) == 0 {
				return false
			}
			for _, impl := range impls {
				if _, isObj := objs[impl]; !isObj || !visit(impl) {
					return false
				}
			}
			return true
		}
		switch state[name] {
		case 1:
			return true // a cycle: decided by the rest of the walk
		case 2:
			return p.inline[name]
		}
		state[name] = 1
		ok = !o.IsConcurrent() && !o.Root
		for _, f := range o.Fields {
			if !ok {
				break
			}
			def := f.TypeReference.Definition
			if def == nil || def.IsLeafType() || f.Name == "__typename" || strings.HasPrefix(def.Name, "__") {
				continue
			}
			ok = visit(def.Name)
		}
		state[name] = 2
		p.inline[name] = ok
		return ok
	}
	for name := range objs {
		visit(name)
	}
	if os.Getenv("CODEGEN_DEBUG") != "" {
		for name := range objs {
			if !p.inline[name] {
				fmt.Fprintln(os.Stderr, "not inline:", name, "concurrent:", objs[name].IsConcurrent())
			}
		}
	}
	return nil
}

var deferGroup = regexp.MustCompile(`(?m)^(\tec\.ProcessDeferredGroup\(graphql\.DeferredGroup\{\n(?:\t\t.*\n)+\t\}\)\n)`)

// leafField matches a generated field function whose resolver is a plain
// expression and whose marshaller is one call. Groups: 1 the signature
// line, 2 Object_field, 3 the field-context function, 4 the value
// expression, 5 the value's type, 6 the marshaller, 7 whether gqlgen
// recovers panics in it.
var leafField = regexp.MustCompile(`(?m)^(func \(ec \*executionContext\) _(\w+)\(ctx context\.Context, field graphql\.CollectedField, obj [^)]*\) \(ret graphql\.Marshaler\) \{\n)` +
	`\treturn graphql\.ResolveField\(\n\t\tctx,\n\t\tec\.OperationContext,\n\t\tfield,\n` +
	`\t\tfunc\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{\n\t\t\treturn (ec\.fieldContext_\w+)\(ctx, field\)\n\t\t\},\n` +
	`\t\tfunc\(ctx context\.Context\) \(any, error\) \{\n\t\t\treturn (.+), nil\n\t\t\},\n` +
	`\t\tnil,\n` +
	`\t\tfunc\(ctx context\.Context, selections ast\.SelectionSet, v ([^)]+)\) graphql\.Marshaler \{\n\t\t\treturn (ec\.marshal[^\s(]+)\(ctx, selections, v\)\n\t\t\},\n` +
	`\t\t(true|false),\n\t\t(?:true|false),\n\t\)\n\}`)

var sliceMarshaler = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) marshal[NO](\w+?)2ᚕ`)

// rewriteStats counts what the rewrites changed, so generation fails
// loudly when a gqlgen upgrade makes a pattern stop matching.
type rewriteStats struct {
	inlineLists    map[string]bool // inline types whose slice marshaller was rewritten
	deferGroups    int
	leavesMatched  map[string]bool
	objectsMatched map[string]bool
}

// rewriteSource applies the three rewrites to one generated file.
func (p *synchronous) rewriteSource(src string, st *rewriteStats) string {
	locs := sliceMarshaler.FindAllStringSubmatchIndex(src, -1)
	var out strings.Builder
	last := 0
	for i, loc := range locs {
		end := len(src)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		name := src[loc[2]:loc[3]]
		out.WriteString(src[last:loc[0]])
		body := src[loc[0]:end]
		if p.inline[name] && strings.Contains(body, "graphql.MarshalSliceConcurrently(") {
			body = strings.Replace(body, "graphql.MarshalSliceConcurrently(", "marshalSliceInline(", 1)
			st.inlineLists[name] = true
		}
		out.WriteString(body)
		last = end
	}
	out.WriteString(src[last:])
	// Objects build their @defer bookkeeping (including the field path,
	// 8 % of listing CPU) even when the query has no @defer; the call is
	// a no-op for an empty group, so skip building it.
	rewritten := deferGroup.ReplaceAllStringFunc(out.String(), func(m string) string {
		st.deferGroups++
		return "\tif len(deferLabelToView) > 0 {\n" + m + "\t}\n"
	})
	// Plain leaf fields: marshal the value directly instead of building
	// a field context, closures and a middleware chain per field (the
	// bulk of gqlgen's per-field cost). These fields cost nothing (leaves
	// carrying @cost are never listed) and cannot fail, so neither cost
	// accounting nor error handling changes.
	return leafField.ReplaceAllStringFunc(rewritten, func(m string) string {
		sub := leafField.FindStringSubmatch(m)
		name, fieldContext, value, typ, marshal, recovers := sub[2], sub[3], sub[4], sub[5], sub[6], sub[7] == "true"
		if strings.Contains(value, "fc.") {
			return m
		}
		if p.objects[name] {
			st.objectsMatched[name] = true
			return sub[1] + objectField(fieldContext, value, typ, marshal, recovers)
		}
		if !p.leaves[name] {
			return m
		}
		// A nil pointer in a non-null field is an error reported at the
		// field's own path, which needs the field context: keep those.
		if strings.HasPrefix(typ, "*") && strings.HasPrefix(marshal, "ec.marshalN") {
			return m
		}
		st.leavesMatched[name] = true
		body := "\treturn " + marshal + "(ctx, field.Selections, " + value + ")\n}"
		if recovers {
			// A panic (the only way such a field fails) is reported as
			// gqlgen reports it — at the field's own path, the field
			// null, non-null propagation left to the parent — building
			// the field context only then.
			body = "\tdefer func() {\n\t\tif r := recover(); r != nil {\n\t\t\tret = recoverLeaf(ctx, ec.OperationContext, field, " +
				fieldContext + ", r)\n\t\t}\n\t}()\n" + body
		}
		return sub[1] + body
	})
}

// objectField is the body of a rewritten plain object field: the field
// context is built (children report errors at their own paths, nil in a
// non-null field is an error at this one), but not gqlgen's resolver and
// middleware closures; the cost tracker, the only field middleware, is
// called directly (recordField), so actual cost is unchanged.
func objectField(fieldContext, value, typ, marshal string, recovers bool) string {
	length := "0"
	if strings.HasPrefix(typ, "[]") {
		length = "len(v)"
	}
	var b strings.Builder
	b.WriteString("\tfc, err := " + fieldContext + "(ctx, field)\n\tif err != nil {\n\t\treturn graphql.Null\n\t}\n")
	b.WriteString("\tctx = graphql.WithFieldContext(ctx, fc)\n")
	if recovers {
		b.WriteString("\tdefer func() {\n\t\tif r := recover(); r != nil {\n" +
			"\t\t\tec.OperationContext.Error(ctx, ec.OperationContext.Recover(ctx, r))\n\t\t\tret = graphql.Null\n\t\t}\n\t}()\n")
	}
	b.WriteString("\tv := " + value + "\n")
	b.WriteString("\trecordField(ctx, field, " + length + ")\n")
	b.WriteString("\treturn " + marshal + "(ctx, field.Selections, v)\n}")
	return b.String()
}

// rewrite makes lists of inline types marshal in the calling goroutine.
// gqlgen has no switch for this; the rewrite is part of generation, so
// generated code is still never edited by hand. It fails when a rewrite
// that should apply matched nothing (a gqlgen upgrade changed its output).
func (p *synchronous) rewrite(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.generated.go"))
	if err != nil {
		return err
	}
	st := &rewriteStats{inlineLists: map[string]bool{}, leavesMatched: map[string]bool{}, objectsMatched: map[string]bool{}}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		src := string(b)
		rewritten := p.rewriteSource(src, st)
		if rewritten != src {
			// imports.Process also drops imports the rewrites left unused.
			formatted, err := imports.Process(file, []byte(rewritten), &imports.Options{Comments: true, TabIndent: true, TabWidth: 8, FormatOnly: false})
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if err := os.WriteFile(file, formatted, 0o644); err != nil {
				return err
			}
		}
	}
	if err := p.check(st); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "inline.generated.go"), []byte(inlineSource), 0o644)
}

// check fails unless every rewrite found what it was meant to change.
func (p *synchronous) check(st *rewriteStats) error {
	// Not every eligible leaf has the generated shape the pattern knows
	// (nullable and list leaves differ); each pattern must still apply.
	var missing []string
	if len(p.leaves) > 0 && len(st.leavesMatched) == 0 {
		missing = append(missing, "every leaf field")
	}
	if len(p.objects) > 0 && len(st.objectsMatched) == 0 {
		missing = append(missing, "every object field")
	}
	anyInline := false
	for _, ok := range p.inline {
		anyInline = anyInline || ok
	}
	if anyInline && len(st.inlineLists) == 0 {
		missing = append(missing, "every inline list marshaller")
	}
	if st.deferGroups == 0 {
		missing = append(missing, "the @defer bookkeeping")
	}
	if len(missing) > 0 {
		return fmt.Errorf("rewrites matched nothing for: %s (gqlgen's generated code changed; update internal/codegen)", strings.Join(missing, ", "))
	}
	return nil
}

const inlineSource = `// Code generated by cartograph internal/codegen, DO NOT EDIT.

package generated

import (
	"context"

	"cartograph/internal/cost"

	"github.com/99designs/gqlgen/graphql"
)

// recordField counts a rewritten object field into the request's cost
// tracker, as the cost extension's field interceptor does for the rest.
func recordField(ctx context.Context, field graphql.CollectedField, length int) {
	cost.Record(ctx, field.Field, length)
}

// recoverLeaf reports a panic in a rewritten leaf field the way
// graphql.ResolveField does: the error carries the field's path, the
// field's value is null, and the parent object turns a null in a non-null
// field into null propagation.
func recoverLeaf(ctx context.Context, oc *graphql.OperationContext, field graphql.CollectedField,
	fieldContext func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error), r any) graphql.Marshaler {
	fc, err := fieldContext(ctx, field)
	if err != nil {
		return graphql.Null
	}
	ctx = graphql.WithFieldContext(ctx, fc)
	oc.Error(ctx, oc.Recover(ctx, r))
	return graphql.Null
}

// marshalSliceInline is graphql.MarshalSliceConcurrently without the
// goroutine per element, for lists whose elements resolve synchronously.
// A panic in one element is recovered and nulls the list, as upstream does.
func marshalSliceInline(ctx context.Context, length int, _ int64, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (ret graphql.Array) {
	ret = make(graphql.Array, length)
	for i := 0; i < length; i++ {
		fc := &graphql.FieldContext{Index: &i}
		childCtx := graphql.WithFieldContext(ctx, fc)
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		failed := func() (failed bool) {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					failed = true
				}
			}()
			ret[i] = marshalElement(childCtx, i)
			return false
		}()
		if failed {
			return nil
		}
	}
	return ret
}
`

func main() {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		fmt.Fprintln(os.Stderr, "codegen: load gqlgen.yml:", err)
		os.Exit(2)
	}
	if err := generate(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "codegen:", err)
		os.Exit(3)
	}
}

// generate runs gqlgen with the plugin, then the rewrites; it fails when
// a rewrite that should apply matched nothing.
func generate(cfg *config.Config) error {
	p := &synchronous{}
	if err := api.Generate(cfg, api.AddPlugin(p)); err != nil {
		return err
	}
	if err := p.rewrite(cfg.Exec.Dir()); err != nil {
		return fmt.Errorf("rewrites: %w", err)
	}
	return nil
}
