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
	"go/types"
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
	// objectNames holds every generated object type.
	objectNames map[string]bool
	// inlineResolvers: some inline type has a resolver field without
	// runtime directives (the resolver rewrite must then apply).
	inlineResolvers bool
	// appenders maps "Object_field" of a method leaf X() string to the
	// method AppendX(dst []byte) []byte of the same type, which appends the
	// same text (needing no JSON escaping: money amounts) without
	// allocating a string.
	appenders map[string]string
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
	p.inlineResolvers = false
	p.appenders = map[string]string{}
	p.leaves = map[string]bool{}
	p.objects = map[string]bool{}
	p.objectNames = map[string]bool{}
	for name := range objs {
		p.objectNames[name] = true
	}
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
				if f.GoFieldType == codegen.GoFieldMethod && hasAppender(o.Type, "Append"+f.GoFieldName) {
					p.appenders[o.Name+"_"+f.Name] = "Append" + f.GoFieldName
				}
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
			// Recorded like an object's verdict: a list of an inline
			// interface must be rewritten too, or gqlgen's goroutine per
			// element would share its parent's arena.
			ok := true
			for _, impl := range impls {
				if _, isObj := objs[impl]; !isObj || !visit(impl) {
					ok = false
					break
				}
			}
			p.inline[name] = ok
			return ok
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
	// A cycle is decided optimistically above; take back every type with a
	// child that turned out not inline, until nothing changes: a non-inline
	// type (goroutines per field or element) must never see an arena.
	for changed := true; changed; {
		changed = false
		for name, o := range objs {
			if !p.inline[name] {
				continue
			}
			for _, f := range o.Fields {
				def := f.TypeReference.Definition
				if def == nil || def.IsLeafType() || f.Name == "__typename" || strings.HasPrefix(def.Name, "__") {
					continue
				}
				if !p.inline[def.Name] {
					p.inline[name] = false
					changed = true
					break
				}
			}
		}
		for name, impls := range abstract {
			if !p.inline[name] {
				continue
			}
			for _, impl := range impls {
				if !p.inline[impl] {
					p.inline[name] = false
					changed = true
					break
				}
			}
		}
	}
	for _, o := range data.Objects {
		if !p.inline[o.Name] {
			continue
		}
		for _, f := range o.Fields {
			runtimeDirective := false
			for _, d := range f.Directives {
				runtimeDirective = runtimeDirective || !d.SkipRuntime
			}
			p.inlineResolvers = p.inlineResolvers || (f.IsResolver && !runtimeDirective)
		}
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

// hasAppender reports whether t (or *t) has a method name of signature
// func([]byte) []byte.
func hasAppender(t types.Type, name string) bool {
	if t == nil {
		return false
	}
	if _, isPtr := t.(*types.Pointer); !isPtr {
		t = types.NewPointer(t)
	}
	sel := types.NewMethodSet(t).Lookup(nil, name)
	if sel == nil {
		return false
	}
	sig, ok := sel.Type().(*types.Signature)
	if !ok || sig.Params().Len() != 1 || sig.Results().Len() != 1 {
		return false
	}
	bytes := types.NewSlice(types.Typ[types.Byte])
	return types.Identical(sig.Params().At(0).Type(), bytes) && types.Identical(sig.Results().At(0).Type(), bytes)
}

// queryDataBuffer is how Exec marshals a query's data.
const queryDataBuffer = "\t\t\tvar buf bytes.Buffer\n\t\t\tdata.MarshalGQL(&buf)\n\t\t\tresponse.Data = buf.Bytes()\n"

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

var nullElementCheck = regexp.MustCompile(`\tfor _, e := range ret \{\n\t\tif e == graphql\.Null \{\n\t\t\treturn graphql\.Null\n\t\t\}\n\t\}\n`)

// objectFunc matches the start of a generated object function; group 1 is
// the type name.
var objectFunc = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) _(\w+)\(ctx context\.Context, sel ast\.SelectionSet, obj [^)]*\) graphql\.Marshaler \{\n`)

var (
	objectHead     = regexp.MustCompile(`^\tfields := graphql\.CollectFields\(ec\.OperationContext, sel, (\w+)\)\n\n\tout := graphql\.NewFieldSet\(fields\)\n\tdeferredFieldSet := graphql\.NewFieldSet\(nil\)\n\tdeferLabelToView := make\(map\[string\]\*graphql\.FieldSetView\)\n\tfor i, field := range fields \{\n`)
	objectTypename = regexp.MustCompile(`(?m)^(\t+)out\.Values\[i\] = graphql\.MarshalString\(("\w+")\)$`)
	objectAssign   = regexp.MustCompile(`(?m)^(\t+)out\.Values\[i\] = (ec\._\w+\(ctx, field, obj\))$`)
	objectCheck    = regexp.MustCompile(`(?m)^(\t+)if out\.Values\[i\] == `)
	objectTail     = regexp.MustCompile(`(?s)\tout\.Dispatch\(ctx\)\n\tif out\.Invalids > 0 \{\n\t\treturn graphql\.Null\n\t\}\n.*\treturn out\n\}\n$`)
)

// rewriteObjects makes the object function of every inline type write its
// JSON straight into the request's arena (inline.generated.go) while it
// resolves: no FieldSet, value slice, iterator closures or map per object.
// Inline subtrees resolve in one goroutine and in output order, so each
// field's bytes land where they belong; an object with an invalid non-null
// field truncates what it wrote and returns null, as before.
func (p *synchronous) rewriteObjects(src string, st *rewriteStats) (string, error) {
	locs := objectFunc.FindAllStringSubmatchIndex(src, -1)
	var out strings.Builder
	last := 0
	var failed []string
	for _, loc := range locs {
		name := src[loc[2]:loc[3]]
		if !p.inline[name] || !p.objectNames[name] {
			continue // interfaces and unions dispatch to their objects' functions
		}
		end := strings.Index(src[loc[1]:], "\n}\n")
		if end < 0 {
			failed = append(failed, name)
			continue
		}
		end += loc[1] + 3
		body := src[loc[1]:end]
		ok := objectHead.MatchString(body) && objectTail.MatchString(body) && !strings.Contains(body, "Concurrently(")
		if ok {
			// Fields are collected once per selection set and arena, not
			// once per object (gqlgen's cache computes a hashed key per call).
			body = objectHead.ReplaceAllString(body, "\tout, ctx := beginInline(ctx)\n\tfields := out.a.collect(ec.OperationContext, sel, ${1})\n\tfor i, field := range fields {\n\t\tout.key(i, field.Alias)\n")
			body = objectTypename.ReplaceAllString(body, "${1}out.str(${2})")
			body = objectAssign.ReplaceAllString(body, "${1}out.put(${2})")
			body = objectLeafPut.ReplaceAllStringFunc(body, func(m string) string {
				if w, ok := st.directLeaves[objectLeafPut.FindStringSubmatch(m)[1]]; ok {
					st.directMatched++
					return w
				}
				return m
			})
			body = objectCheck.ReplaceAllString(body, "${1}if out.last == ")
			body = objectTail.ReplaceAllString(body, "\tif out.Invalids > 0 {\n\t\treturn out.null()\n\t}\n\treturn out.end()\n}\n")
			if head := "\tout, ctx := beginInline(ctx)\n"; !strings.Contains(strings.Replace(body, head, "", 1), "ctx") {
				// Every field was written directly: the arena's context is unused.
				body = strings.Replace(body, head, "\tout, _ := beginInline(ctx)\n", 1)
			}
			ok = !strings.Contains(body, "out.Values") && !strings.Contains(body, "deferLabelToView")
		}
		if !ok {
			failed = append(failed, name)
			continue
		}
		st.inlineObjects[name] = true
		out.WriteString(src[last:loc[1]])
		out.WriteString(body)
		last = end
	}
	out.WriteString(src[last:])
	if len(failed) > 0 {
		return src, fmt.Errorf("inline object functions of unknown shape: %s", strings.Join(failed, ", "))
	}
	return out.String(), nil
}

// simpleFieldContext matches gqlgen's field-context function of a field
// without arguments: 1 its name, 2 the object, 3 IsMethod, 4 IsResolver.
var simpleFieldContext = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (fieldContext_\w+)\(_ context\.Context, field graphql\.CollectedField\) \(fc \*graphql\.FieldContext, err error\) \{\n` +
	`\tfc = &graphql\.FieldContext\{\n\t\tObject: +("\w+"),\n\t\tField: +field,\n\t\tIsMethod: +(true|false),\n\t\tIsResolver: +(true|false),\n` +
	`\t\tChild: func\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{\n\t\t\treturn ec\.childFields_\w+\(ctx, field\)\n\t\t\},\n\t\}\n\treturn fc, nil\n\}`)

var fieldArgs = regexp.MustCompile(`fc\.Args, err = (ec\.field_\w+_args)\(ctx, field\.ArgumentMap\(ec\.Variables\)\)`)

var (
	unmarshalerMap     = regexp.MustCompile(`\tinputUnmarshalMap := graphql\.BuildUnmarshalerMap\((?:\n(?:\t\t.*\n)*\t)?\)\n`)
	withUnmarshalerMap = regexp.MustCompile(`(?m)^\t+ctx = graphql\.WithUnmarshalerMap\(ctx, inputUnmarshalMap\)\n`)
)

var sliceMarshaler = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) marshal[NO](\w+?)2ᚕ`)

// rewriteStats counts what the rewrites changed, so generation fails
// loudly when a gqlgen upgrade makes a pattern stop matching.
type rewriteStats struct {
	inlineLists    map[string]bool // inline types whose slice marshaller was rewritten
	inlineObjects  map[string]bool // inline types whose object function writes into the arena
	deferGroups    int
	leavesMatched  map[string]bool
	objectsMatched map[string]bool
	errs           []string
	directLeaves   map[string]string // Object_field -> the arena write replacing its marshaller
	directMatched  int
	// unmarshalerMaps counts the input-unmarshaller maps removed from Exec.
	unmarshalerMaps int
	// framedFields counts object fields taking their context from frames.
	framedFields int
	// cachedArgs counts field-context functions coercing arguments once
	// per arena, of argumentMaps that build an argument map.
	cachedArgs, argumentMaps int
	// resolversMatched counts resolver fields of inline types rewritten.
	resolversMatched int
	// appendersMatched counts method leaves written by their Append method.
	appendersMatched int
	// responseBuffers counts query data buffers taken from the pool.
	responseBuffers int
	// collectCalls counts field collections routed to the plan cache.
	collectCalls int
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
			// The list wrote its elements into the arena; a null in a
			// non-null element is reported by the list itself.
			body = nullElementCheck.ReplaceAllString(body, "\tif ret.hasNull {\n\t\treturn graphql.Null\n\t}\n")
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
	// Object fields whose field context is gqlgen's plain shape get it
	// from the arena's frames when an arena is in the context.
	fieldContextShapes := map[string]string{}
	for _, m := range simpleFieldContext.FindAllStringSubmatch(rewritten, -1) {
		fieldContextShapes[m[1]] = m[2] + ", field, " + m[3] + ", " + m[4]
	}
	// Plain leaf fields: marshal the value directly instead of building
	// a field context, closures and a middleware chain per field (the
	// bulk of gqlgen's per-field cost). These fields cost nothing (leaves
	// carrying @cost are never listed) and cannot fail, so neither cost
	// accounting nor error handling changes.
	leaves := leafField.ReplaceAllStringFunc(rewritten, func(m string) string {
		sub := leafField.FindStringSubmatch(m)
		name, fieldContext, value, typ, marshal, recovers := sub[2], sub[3], sub[4], sub[5], sub[6], sub[7] == "true"
		if strings.Contains(value, "fc.") {
			return m
		}
		if p.objects[name] {
			st.objectsMatched[name] = true
			frame := ""
			if m := fieldContextShapes[strings.TrimPrefix(fieldContext, "ec.")]; m != "" {
				frame = m
				st.framedFields++
			}
			return sub[1] + objectField(fieldContext, value, typ, marshal, recovers, frame)
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
		w, direct := directWriters[marshal]
		switch {
		case direct && plainFieldValue.MatchString(value):
			st.directLeaves[name] = "out." + fmt.Sprintf(w, value)
		case direct && recovers && methodValue.MatchString(value):
			// A method can panic: its write gets a function of its own
			// that reports the panic as the leaf function does (the field
			// null at its own path, propagation left to the object).
			objType := objParam.FindStringSubmatch(sub[1])[1]
			st.directLeaves[name] = "ec._" + name + "_direct(ctx, field, obj, &out)"
			write := "\tout." + fmt.Sprintf(w, value) + "\n"
			if app := p.appenders[name]; app != "" && w == "writeString(%s)" {
				// The text is appended in place: no string per value.
				write = "\tout.last = nil\n\tout.a.buf = append(obj." + app + "(append(out.a.buf, '\"')), '\"')\n"
				st.appendersMatched++
			}
			body += "\n\nfunc (ec *executionContext) _" + name + "_direct(ctx context.Context, field graphql.CollectedField, obj " + objType +
				", out *inlineObject) {\n\tdefer func() {\n\t\tif r := recover(); r != nil {\n\t\t\tout.put(recoverLeaf(ctx, ec.OperationContext, field, " +
				fieldContext + ", r))\n\t\t}\n\t}()\n" + write + "}"
		}
		return sub[1] + body
	})
	// Exec builds a map of every input unmarshaller (one closure per
	// input type) per operation, for graphql.UnmarshalInputFromContext,
	// which nothing in this module calls (internal/archtest guards it).
	leaves = unmarshalerMap.ReplaceAllStringFunc(leaves, func(string) string {
		st.unmarshalerMaps++
		return ""
	})
	leaves = withUnmarshalerMap.ReplaceAllString(leaves, "")
	// A query's data is marshalled into a pooled buffer when the
	// transport releases it after writing the response (WithResponseData).
	st.responseBuffers += strings.Count(leaves, queryDataBuffer)
	leaves = strings.ReplaceAll(leaves, queryDataBuffer, "\t\t\tbuf := responseBuffer(ctx)\n\t\t\tdata.MarshalGQL(buf)\n\t\t\tresponse.Data = buf.Bytes()\n")
	// A field's arguments depend only on the document and the variables:
	// inside an arena they are coerced once, not once per parent object.
	st.argumentMaps += strings.Count(leaves, "field.ArgumentMap(ec.Variables)")
	leaves = fieldArgs.ReplaceAllStringFunc(leaves, func(m string) string {
		st.cachedArgs++
		return fieldArgs.ReplaceAllString(m, "fc.Args, err = cachedArgs(ctx, field.Field, ec.Variables, ${1})")
	})
	leaves = p.rewriteResolvers(leaves, st)
	objects, err := p.rewriteObjects(leaves, st)
	if err != nil {
		st.errs = append(st.errs, err.Error())
	}
	// Every object's fields come from the per-document plan cache.
	st.collectCalls += strings.Count(objects, "graphql.CollectFields(ec.OperationContext, ")
	return strings.ReplaceAll(objects, "graphql.CollectFields(ec.OperationContext, ", "collectFields(ec.OperationContext, ")
}

// directWriters are the leaf marshallers an inline object replaces with a
// write into its arena (no Marshaler value per field), for leaves whose
// value is a struct field of obj (which cannot panic: obj is never nil).
var directWriters = map[string]string{
	"ec.marshalNString2string":   "writeString(%s)",
	"ec.marshalNID2string":       "writeString(%s)",
	"ec.marshalNDecimal2string":  "writeString(%s)",
	"ec.marshalNURL2string":      "writeString(%s)",
	"ec.marshalOString2ᚖstring":  "writeOptString(%s)",
	"ec.marshalOInt2ᚖint":        "writeOptInt(%s)",
	"ec.marshalOInt2ᚖint32":      "writeOptInt32(%s)",
	"ec.marshalNString2ᚕstringᚄ": "writeStrings(%s)",
	"ec.marshalNBoolean2bool":    "writeBool(%s)",
	"ec.marshalNInt2int":         "writeInt(int64(%s))",
	"ec.marshalNInt2int32":       "writeInt(int64(%s))",
	// Currency codes are three ASCII capitals (validated on the way in),
	// where strconv.Quote, Currency's own marshaller, writes the same bytes.
	"ec.marshalNCurrencyCode2cartographᚋinternalᚋmoneyᚐCurrency": "writeString(string(%s))",
}

var (
	plainFieldValue = regexp.MustCompile(`^obj\.\w+$`)
	methodValue     = regexp.MustCompile(`^obj\.\w+\(\)$`)
	objParam        = regexp.MustCompile(`obj ([^)]*)\) \(ret`)
	objectLeafPut   = regexp.MustCompile(`out\.put\(ec\._(\w+)\(ctx, field, obj\)\)`)
)

// objectField is the body of a rewritten plain object field: the field
// context is built (children report errors at their own paths, nil in a
// non-null field is an error at this one), but not gqlgen's resolver and
// middleware closures; the cost tracker, the only field middleware, is
// called directly (recordField), so actual cost is unchanged.
func objectField(fieldContext, value, typ, marshal string, recovers bool, frame string) string {
	length := "0"
	if strings.HasPrefix(typ, "[]") {
		length = "len(v)"
	}
	var b strings.Builder
	if frame != "" {
		// Under an inline parent the field context and the context that
		// carries it come from the arena's slab (no allocation).
		b.WriteString("\tif a := arenaIn(ctx); a != nil {\n\t\tctx = a.objectField(ctx, " + frame + ")\n\t} else {\n")
		b.WriteString("\t\tfc, err := " + fieldContext + "(ctx, field)\n\t\tif err != nil {\n\t\t\treturn graphql.Null\n\t\t}\n")
		b.WriteString("\t\tctx = graphql.WithFieldContext(ctx, fc)\n\t}\n")
	} else {
		b.WriteString("\tfc, err := " + fieldContext + "(ctx, field)\n\tif err != nil {\n\t\treturn graphql.Null\n\t}\n")
		b.WriteString("\tctx = graphql.WithFieldContext(ctx, fc)\n")
	}
	if recovers {
		b.WriteString("\tdefer func() {\n\t\tif r := recover(); r != nil {\n" +
			"\t\t\tec.OperationContext.Error(ctx, ec.OperationContext.Recover(ctx, r))\n\t\t\tret = graphql.Null\n\t\t}\n\t}()\n")
	}
	b.WriteString("\tv := " + value + "\n")
	b.WriteString("\trecordField(ctx, field, " + length + ")\n")
	b.WriteString("\treturn " + marshal + "(ctx, field.Selections, v)\n}")
	return b.String()
}

// resolverField matches a generated field function that calls a resolver
// method with no directive middleware. Groups: 1 the signature line, 2
// Object_field, 3 the field-context function, 4 the line reading the
// field context (arguments), 5 the resolver call, 6 the value's type, 7
// the marshaller, 8 whether gqlgen recovers panics in it.
var resolverField = regexp.MustCompile(`(?m)^(func \(ec \*executionContext\) _(\w+)\(ctx context\.Context, field graphql\.CollectedField, obj [^)]*\) \(ret graphql\.Marshaler\) \{\n)` +
	`\treturn graphql\.ResolveField\(\n\t\tctx,\n\t\tec\.OperationContext,\n\t\tfield,\n` +
	`\t\tfunc\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{\n\t\t\treturn (ec\.fieldContext_\w+)\(ctx, field\)\n\t\t\},\n` +
	`\t\tfunc\(ctx context\.Context\) \(any, error\) \{\n((?:\t\t\tfc := graphql\.GetFieldContext\(ctx\)\n)?)\t\t\treturn (ec\.Resolvers\.\w+\(\)\.\w+\(ctx, obj(?:, [^\n]*)?\))\n\t\t\},\n` +
	`\t\tnil,\n` +
	`\t\tfunc\(ctx context\.Context, selections ast\.SelectionSet, v ([^)]+)\) graphql\.Marshaler \{\n\t\t\treturn (ec\.marshal[^\s(]+)\(ctx, selections, v\)\n\t\t\},\n` +
	`\t\t(true|false),\n\t\t(?:true|false),\n\t\)\n\}`)

// The shapes of gqlgen's field-context functions the resolver rewrite
// reads Object, IsMethod and IsResolver from, and the argument coercion.
var (
	scalarFieldContext = regexp.MustCompile(`^func \(ec \*executionContext\) fieldContext_\w+\(_ context\.Context, field graphql\.CollectedField\) \(fc \*graphql\.FieldContext, err error\) \{\n` +
		`\treturn graphql\.NewScalarFieldContext\(("\w+"), field, (true|false), (true|false), errors\.New\("[^"\n]*"\)\)\n\}`)
	objectFieldContext = regexp.MustCompile(`^func \(ec \*executionContext\) fieldContext_\w+\((?:_|ctx) context\.Context, field graphql\.CollectedField\) \(fc \*graphql\.FieldContext, err error\) \{\n` +
		`\tfc = &graphql\.FieldContext\{\n\t\tObject: +("\w+"),\n\t\tField: +field,\n\t\tIsMethod: +(true|false),\n\t\tIsResolver: +(true|false),\n`)
	fieldContextArgs = regexp.MustCompile(`\tif fc\.Args, err = cachedArgs\(ctx, field\.Field, ec\.Variables, (ec\.field_\w+_args)\); err != nil \{\n\t\tec\.Error\(ctx, err\)\n\t\treturn fc, err\n\t\}\n\treturn fc, nil\n\}`)
)

// rewriteResolvers makes the resolver fields of inline types (Product's
// variants, featuredImage, availableForSale, ...) resolve without gqlgen's
// per-field closures, field context and middleware chain when they run
// inside an arena: the field context is a frame, the arguments are
// coerced once per arena, the resolver is called directly, and the cost
// tracker — the only field middleware the server installs, which
// server.New checks — is called as the interceptor would. A resolver
// error or panic is reported at the field's path and the field is null,
// as graphql.ResolveField does; outside an arena the function is gqlgen's.
func (p *synchronous) rewriteResolvers(src string, st *rewriteStats) string {
	fieldContexts := map[string]string{} // fieldContext_X -> its function
	for _, loc := range regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (fieldContext_\w+)\(`).FindAllStringSubmatchIndex(src, -1) {
		end := strings.Index(src[loc[0]:], "\n}\n")
		if end < 0 {
			continue
		}
		fieldContexts[src[loc[2]:loc[3]]] = src[loc[0] : loc[0]+end+2]
	}
	return resolverField.ReplaceAllStringFunc(src, func(m string) string {
		sub := resolverField.FindStringSubmatch(m)
		name, fieldContext, readsArgs, call, typ, marshal, recovers := sub[2], sub[3], sub[4] != "", sub[5], sub[6], sub[7], sub[8] == "true"
		fcSrc := fieldContexts[strings.TrimPrefix(fieldContext, "ec.")]
		shape := scalarFieldContext.FindStringSubmatch(fcSrc)
		if shape == nil {
			shape = objectFieldContext.FindStringSubmatch(fcSrc)
		}
		if shape == nil || !p.inline[strings.Trim(shape[1], `"`)] || !p.objectNames[strings.Trim(shape[1], `"`)] {
			return m
		}
		args := ""
		if readsArgs {
			a := fieldContextArgs.FindStringSubmatch(fcSrc)
			if a == nil {
				st.errs = append(st.errs, "the argument coercion of "+name)
				return m
			}
			args = a[1]
		}
		st.resolversMatched++
		length := "0"
		if strings.HasPrefix(typ, "[]") {
			length = "len(v)"
		}
		original := strings.TrimPrefix(m, sub[1])
		original = strings.TrimSuffix(original, "}")
		var b strings.Builder
		b.WriteString(sub[1])
		b.WriteString("\ta := arenaIn(ctx)\n\tif a == nil {\n")
		for _, line := range strings.Split(strings.TrimSuffix(original, "\n"), "\n") {
			b.WriteString("\t" + line + "\n")
		}
		b.WriteString("\t}\n")
		b.WriteString("\tf := a.resolverField(" + shape[1] + ", field, " + shape[2] + ", " + shape[3] + ")\n")
		b.WriteString("\tctx = a.withFrame(ctx, f)\n\tfc := &f.fc\n")
		if args != "" {
			b.WriteString("\targs, err := cachedArgs(ctx, field.Field, ec.Variables, " + args + ")\n")
			b.WriteString("\tif err != nil {\n\t\tec.Error(ctx, err)\n\t\treturn graphql.Null\n\t}\n\tfc.Args = args\n")
		}
		if recovers {
			b.WriteString("\tdefer func() {\n\t\tif r := recover(); r != nil {\n" +
				"\t\t\tec.OperationContext.Error(ctx, ec.OperationContext.Recover(ctx, r))\n\t\t\tret = graphql.Null\n\t\t}\n\t}()\n")
		}
		b.WriteString("\tv, err := " + call + "\n")
		b.WriteString("\trecordField(ctx, field, " + length + ")\n")
		b.WriteString("\tif err != nil {\n\t\tec.OperationContext.Error(ctx, graphql.AddFieldLocationToError(ctx, err))\n\t\treturn graphql.Null\n\t}\n")
		b.WriteString("\tfc.Result = v\n")
		b.WriteString("\treturn " + marshal + "(ctx, field.Selections, v)\n}")
		return b.String()
	})
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
	st := &rewriteStats{inlineLists: map[string]bool{}, inlineObjects: map[string]bool{}, directLeaves: map[string]string{}, leavesMatched: map[string]bool{}, objectsMatched: map[string]bool{}}
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
	for name, ok := range p.inline {
		if ok && !st.inlineObjects[name] && p.objectNames[name] {
			missing = append(missing, "the object function of "+name)
		}
	}
	if len(st.directLeaves) > 0 && len(st.inlineObjects) > 0 && st.directMatched == 0 {
		missing = append(missing, "every direct leaf write")
	}
	missing = append(missing, st.errs...)
	if len(st.objectsMatched) > 0 && st.framedFields == 0 {
		missing = append(missing, "every object field's field context")
	}
	if st.cachedArgs != st.argumentMaps {
		missing = append(missing, fmt.Sprintf("%d of %d fields' argument coercions", st.argumentMaps-st.cachedArgs, st.argumentMaps))
	}
	if len(p.appenders) > 0 && st.appendersMatched == 0 {
		missing = append(missing, "every leaf with an Append method")
	}
	if st.resolversMatched == 0 && p.inlineResolvers {
		missing = append(missing, "every resolver field of an inline type")
	}
	if st.unmarshalerMaps == 0 {
		missing = append(missing, "Exec's input-unmarshaller map")
	}
	if st.unmarshalerMaps > 0 && st.collectCalls == 0 {
		missing = append(missing, "the objects' field collection")
	}
	if st.unmarshalerMaps > 0 && st.responseBuffers == 0 {
		missing = append(missing, "Exec's query data buffer")
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
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strconv"
	"sync"

	"cartograph/internal/cost"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// recordField counts a rewritten object field into the request's cost
// tracker, as the cost extension's field interceptor does for the rest.
// Inside an arena the tracker is looked up in the context once.
func recordField(ctx context.Context, field graphql.CollectedField, length int) {
	a := arenaIn(ctx)
	if a == nil {
		cost.Record(ctx, field.Field, length)
		return
	}
	if !a.trackerSet {
		a.tracker, a.trackerSet = cost.TrackerOf(ctx), true
	}
	if a.tracker != nil && field.Field != nil {
		a.tracker.Record(field.Field, length)
	}
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

// inlineArena is where an inline subtree (objects of @synchronous types
// and everything under them, resolved in one goroutine in output order)
// writes its JSON while it resolves. The first inline object or list of a
// subtree makes one and hands it to its descendants through the context;
// the subtree's result is a span of it, copied out when the non-inline
// parent marshals the response.
type inlineArena struct {
	buf       []byte
	spans     []inlineSpan
	frames    []fieldFrame
	collected []collectedFields
	args      []fieldArgs
	// the request's cost tracker (nil: none), once looked up
	tracker    *cost.Tracker
	trackerSet bool
	// slabs of frames and spans handed out, kept for reuse by a pooled
	// arena (a slab is never reallocated while its elements are in use)
	frameSlabs [][]fieldFrame
	spanSlabs  [][]inlineSpan
	nFrameSlab int
	nSpanSlab  int
}

// An arena is recycled only when the server says when the response has
// been written out (WithArenas); one that grew past maxPooledBuf is left
// to the collector rather than kept.
const maxPooledBuf = 1 << 20

var arenaPool = sync.Pool{New: func() any { return &inlineArena{buf: make([]byte, 0, 16<<10)} }}

// pooledSet is what one response took from a pool (arenas, data
// buffers), handed back together by release; the subtrees of one response
// may resolve on different goroutines. Taken after release, an item is
// new and not pooled.
type pooledSet[T any] struct {
	pool    *sync.Pool
	recycle func(T) bool // resets an item; false: too big to keep
	mu      sync.Mutex
	items   []T
	done    bool
}

// take is an item from the pool, or ok false once released.
func (s *pooledSet[T]) take() (item T, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return item, false
	}
	item = s.pool.Get().(T)
	s.items = append(s.items, item)
	return item, true
}

func (s *pooledSet[T]) release() {
	s.mu.Lock()
	items := s.items
	s.items, s.done = nil, true
	s.mu.Unlock()
	for _, it := range items {
		if s.recycle(it) {
			s.pool.Put(it)
		}
	}
}

type arenaSetKey struct{}

// WithArenas lets the inline subtrees resolved under ctx take their
// arenas from a pool; release returns them. Call release only when
// nothing reads the response's spans any more: after the response
// handler has returned (it copies every span into the response's data).
func WithArenas(ctx context.Context) (context.Context, func()) {
	set := &pooledSet[*inlineArena]{pool: &arenaPool, recycle: func(a *inlineArena) bool {
		if cap(a.buf) > maxPooledBuf {
			return false
		}
		a.reset()
		return true
	}}
	return context.WithValue(ctx, arenaSetKey{}, set), set.release
}

// The data buffers of query responses, recycled when the transport
// says the response has been written (WithResponseData).
var dataPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

type dataSetKey struct{}

// WithResponseData lets the query responses executed under ctx marshal
// their data into pooled buffers; release returns them. A response's
// Data aliases its buffer, so call release only once it has been
// written out and nothing holds it.
func WithResponseData(ctx context.Context) (context.Context, func()) {
	set := &pooledSet[*bytes.Buffer]{pool: &dataPool, recycle: func(b *bytes.Buffer) bool { return b.Cap() <= maxPooledBuf }}
	return context.WithValue(ctx, dataSetKey{}, set), set.release
}

// responseBuffer is the buffer a query's data is marshalled into: pooled
// under WithResponseData, new otherwise.
func responseBuffer(ctx context.Context) *bytes.Buffer {
	if set, _ := ctx.Value(dataSetKey{}).(*pooledSet[*bytes.Buffer]); set != nil {
		if b, ok := set.take(); ok {
			b.Reset()
			return b
		}
	}
	return new(bytes.Buffer)
}

// reset empties the arena for another response and drops what it points
// to (field contexts hold results, arguments and parent contexts).
func (a *inlineArena) reset() {
	a.buf = a.buf[:0]
	for i := 0; i < a.nFrameSlab; i++ {
		clear(a.frameSlabs[i][:cap(a.frameSlabs[i])])
	}
	for i := 0; i < a.nSpanSlab; i++ {
		clear(a.spanSlabs[i][:cap(a.spanSlabs[i])])
	}
	a.nFrameSlab, a.nSpanSlab = 0, 0
	a.frames, a.spans = nil, nil
	clear(a.collected)
	a.collected = a.collected[:0]
	clear(a.args)
	a.args = a.args[:0]
	a.tracker, a.trackerSet = nil, false
}

// collectedFields is one selection set's fields for one object type.
type collectedFields struct {
	sel       *ast.Selection
	satisfies *string
	nSel      int
	fields    []graphql.CollectedField
}

// maxCollected bounds the arena's field cache (looked up linearly); past
// it, gqlgen's own per-operation cache answers.
const maxCollected = 32

// collect is graphql.CollectFields cached per arena: the objects of a list
// share a selection set and an implementors slice, so their fields are
// collected once. Both are identified by their first element's address,
// stricter than gqlgen's key (which hashes the implementors' names).
func (a *inlineArena) collect(oc *graphql.OperationContext, sel ast.SelectionSet, satisfies []string) []graphql.CollectedField {
	if len(sel) == 0 || len(satisfies) == 0 {
		return graphql.CollectFields(oc, sel, satisfies)
	}
	ps, pt := &sel[0], &satisfies[0]
	for i := range a.collected {
		if c := &a.collected[i]; c.sel == ps && c.satisfies == pt && c.nSel == len(sel) {
			return c.fields
		}
	}
	// A miss asks the plan cache (shared across requests, behind a lock).
	fields := collectFields(oc, sel, satisfies)
	if len(a.collected) < maxCollected {
		a.collected = append(a.collected, collectedFields{sel: ps, satisfies: pt, nSel: len(sel), fields: fields})
	}
	return fields
}

type inlineArenaKey struct{}

// The plan cache: what graphql.CollectFields returns for a selection set
// and an object type, kept across requests for documents without
// directives. Without @skip, @include or @defer the result depends on the
// document alone, and a document arrives parsed once (gqlgen's query
// cache, APQ and trusted documents hand out the same *ast.QueryDocument),
// so its selection sets keep their addresses. The cache is bounded: full,
// it starts again empty.
type planKey struct {
	sel       *ast.Selection
	nSel      int
	satisfies *string
	nSat      int
}

const maxPlans = 8192

var plans = struct {
	sync.RWMutex
	fields map[planKey][]graphql.CollectedField
	plain  map[*ast.QueryDocument]bool
}{fields: map[planKey][]graphql.CollectedField{}, plain: map[*ast.QueryDocument]bool{}}

// collectFields is graphql.CollectFields, answered from the plan cache
// for documents without directives. The fields are shared by every
// request of the document; nothing writes to them.
func collectFields(oc *graphql.OperationContext, sel ast.SelectionSet, satisfies []string) []graphql.CollectedField {
	if len(sel) == 0 || len(satisfies) == 0 || !plainDocument(oc.Doc) {
		return graphql.CollectFields(oc, sel, satisfies)
	}
	k := planKey{sel: &sel[0], nSel: len(sel), satisfies: &satisfies[0], nSat: len(satisfies)}
	plans.RLock()
	fields, ok := plans.fields[k]
	plans.RUnlock()
	if ok {
		return fields
	}
	fields = graphql.CollectFields(oc, sel, satisfies)
	plans.Lock()
	if len(plans.fields) >= maxPlans {
		clear(plans.fields)
	}
	plans.fields[k] = fields
	plans.Unlock()
	return fields
}

// plainDocument reports whether doc uses no directive in any selection
// of its operations and fragments (then field collection does not depend
// on variables), remembered per document.
func plainDocument(doc *ast.QueryDocument) bool {
	if doc == nil {
		return false
	}
	plans.RLock()
	plain, ok := plans.plain[doc]
	plans.RUnlock()
	if ok {
		return plain
	}
	plain = true
	for _, op := range doc.Operations {
		plain = plain && noDirectives(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		plain = plain && len(f.Directives) == 0 && noDirectives(f.SelectionSet)
	}
	plans.Lock()
	if len(plans.plain) >= maxPlans {
		clear(plans.plain)
		clear(plans.fields)
	}
	plans.plain[doc] = plain
	plans.Unlock()
	return plain
}

func noDirectives(sel ast.SelectionSet) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if len(s.Directives) > 0 || !noDirectives(s.SelectionSet) {
				return false
			}
		case *ast.InlineFragment:
			if len(s.Directives) > 0 || !noDirectives(s.SelectionSet) {
				return false
			}
		case *ast.FragmentSpread:
			if len(s.Directives) > 0 {
				return false
			}
		}
	}
	return true
}

func arenaOf(ctx context.Context) (*inlineArena, context.Context) {
	if a := arenaIn(ctx); a != nil {
		return a, ctx
	}
	var a *inlineArena
	if set, _ := ctx.Value(arenaSetKey{}).(*pooledSet[*inlineArena]); set != nil {
		a, _ = set.take()
	}
	if a == nil {
		a = &inlineArena{buf: make([]byte, 0, 4096)}
	}
	return a, context.WithValue(ctx, inlineArenaKey{}, a)
}

// fieldArgs are one field's coerced arguments.
type fieldArgs struct {
	field *ast.Field
	args  map[string]any
}

// cachedArgs coerces a field's arguments (ArgumentMap, then the generated
// coercion) once per arena: every object of a list asks for the same
// field of the document with the same variables. The map is shared by
// those objects' field contexts; nothing writes to it. Errors are not
// cached: each object reports its own, at its own path.
func cachedArgs(ctx context.Context, f *ast.Field, vars map[string]any,
	coerce func(context.Context, map[string]any) (map[string]any, error)) (map[string]any, error) {
	a := arenaIn(ctx)
	if a == nil {
		return coerce(ctx, f.ArgumentMap(vars))
	}
	for i := range a.args {
		if a.args[i].field == f {
			return a.args[i].args, nil
		}
	}
	args, err := coerce(ctx, f.ArgumentMap(vars))
	if err == nil && len(a.args) < maxCollected {
		a.args = append(a.args, fieldArgs{field: f, args: args})
	}
	return args, err
}

// arenaIn is the arena of ctx, nil outside an inline subtree.
func arenaIn(ctx context.Context) *inlineArena {
	if f, ok := ctx.(*frameCtx); ok {
		return f.a
	}
	a, _ := ctx.Value(inlineArenaKey{}).(*inlineArena)
	return a
}

// fieldFrame is a field context and the context node that carries it,
// handed out from the arena's slab: what graphql.WithFieldContext and the
// generated field-context functions allocate per field and per element.
type fieldFrame struct {
	fc    graphql.FieldContext
	ctx   frameCtx
	index int
}

// frameCtx carries a field context as graphql.WithFieldContext's node
// does, and its arena.
type frameCtx struct {
	context.Context
	fc *graphql.FieldContext
	a  *inlineArena
}

func (c *frameCtx) Value(key any) any {
	switch key {
	case fieldContextKey:
		return c.fc
	case inlineArenaKey{}:
		return c.a
	}
	return c.Context.Value(key)
}

// fieldContextKey is the key graphql.GetFieldContext looks up, learnt
// from the function itself; nil (frames then use graphql.WithFieldContext)
// if a gqlgen upgrade changes how it reads the context.
var fieldContextKey = func() any {
	p := &keyProbe{Context: context.Background()}
	graphql.GetFieldContext(p)
	if len(p.keys) != 1 {
		return nil
	}
	// The key must be comparable (frameCtx.Value switches on it), and a
	// context answering it must be what GetFieldContext returns.
	k := p.keys[0]
	if !reflect.TypeOf(k).Comparable() {
		return nil
	}
	fc := &graphql.FieldContext{}
	if graphql.GetFieldContext(&keyAnswer{Context: context.Background(), key: k, fc: fc}) != fc {
		return nil
	}
	return k
}()

type keyProbe struct {
	context.Context
	keys []any
}

func (p *keyProbe) Value(key any) any {
	p.keys = append(p.keys, key)
	return nil
}

// keyAnswer answers key with fc (frameCtx cannot check itself while
// fieldContextKey is being initialised).
type keyAnswer struct {
	context.Context
	key any
	fc  *graphql.FieldContext
}

func (c *keyAnswer) Value(key any) any {
	if key == c.key {
		return c.fc
	}
	return c.Context.Value(key)
}

func (a *inlineArena) frame() *fieldFrame {
	if len(a.frames) == cap(a.frames) {
		if a.nFrameSlab == len(a.frameSlabs) {
			a.frameSlabs = append(a.frameSlabs, make([]fieldFrame, 0, 32))
		}
		a.frames = a.frameSlabs[a.nFrameSlab][:0]
		a.nFrameSlab++
	}
	a.frames = a.frames[:len(a.frames)+1]
	return &a.frames[len(a.frames)-1]
}

// withFrame is graphql.WithFieldContext(ctx, &f.fc) without allocating.
func (a *inlineArena) withFrame(ctx context.Context, f *fieldFrame) context.Context {
	if fieldContextKey == nil {
		return graphql.WithFieldContext(ctx, &f.fc)
	}
	f.fc.Parent = graphql.GetFieldContext(ctx)
	f.ctx = frameCtx{Context: ctx, fc: &f.fc, a: a}
	return &f.ctx
}

// objectField is the field context gqlgen's field-context function builds
// for an object field without arguments, from a frame. Its Child is
// noChild: the generated Child closure would allocate, and nothing calls
// it (internal/archtest guards that).
func (a *inlineArena) objectField(ctx context.Context, object string, field graphql.CollectedField, isMethod, isResolver bool) context.Context {
	f := a.frame()
	f.fc = graphql.FieldContext{Object: object, Field: field, IsMethod: isMethod, IsResolver: isResolver, Child: noChild}
	return a.withFrame(ctx, f)
}

// resolverField is a frame holding the field context gqlgen builds for a
// resolver field (its arguments are set by the caller). Child is noChild,
// as for objectField.
func (a *inlineArena) resolverField(object string, field graphql.CollectedField, isMethod, isResolver bool) *fieldFrame {
	f := a.frame()
	f.fc = graphql.FieldContext{Object: object, Field: field, IsMethod: isMethod, IsResolver: isResolver, Child: noChild}
	return f
}

func noChild(context.Context, graphql.CollectedField) (*graphql.FieldContext, error) {
	return nil, errors.New("graphql: FieldContext.Child is not kept for fields inside an inline (@synchronous) subtree")
}

// Write appends p (the arena is the writer of values it did not make).
func (a *inlineArena) Write(p []byte) (int, error) {
	a.buf = append(a.buf, p...)
	return len(p), nil
}

// WriteString keeps io.WriteString (gqlgen's string and key writers) from
// converting every string to a byte slice.
func (a *inlineArena) WriteString(s string) (int, error) {
	a.buf = append(a.buf, s...)
	return len(s), nil
}

// span hands out spans from a slab, so a subtree's objects and lists do
// not each allocate one.
func (a *inlineArena) span(start int) *inlineSpan {
	if len(a.spans) == cap(a.spans) {
		if a.nSpanSlab == len(a.spanSlabs) {
			a.spanSlabs = append(a.spanSlabs, make([]inlineSpan, 0, 64))
		}
		a.spans = a.spanSlabs[a.nSpanSlab][:0]
		a.nSpanSlab++
	}
	a.spans = a.spans[:len(a.spans)+1]
	sp := &a.spans[len(a.spans)-1]
	*sp = inlineSpan{a: a, start: start, end: len(a.buf)}
	return sp
}

// place puts a field's or element's value at mark: a span a child wrote
// there already stays; anything else a child wrote and did not return is
// dropped and the value is marshalled in its place.
func (a *inlineArena) place(mark int, m graphql.Marshaler) {
	if sp, ok := m.(*inlineSpan); ok && sp.a == a && sp.start == mark {
		a.buf = a.buf[:sp.end]
		return
	}
	a.buf = a.buf[:mark]
	if m == nil {
		a.buf = append(a.buf, "null"...)
		return
	}
	m.MarshalGQL(a)
}

// inlineSpan is a finished object or list in an arena.
type inlineSpan struct {
	a          *inlineArena
	start, end int
	// hasNull: a list holds a null element (which a non-null element type
	// turns into a null list).
	hasNull bool
}

func (s *inlineSpan) MarshalGQL(w io.Writer) { _, _ = w.Write(s.a.buf[s.start:s.end]) }

// inlineObject writes one object: '{', then per field its key and value.
type inlineObject struct {
	a           *inlineArena
	start, mark int
	last        graphql.Marshaler
	Invalids    uint32
}

func beginInline(ctx context.Context) (inlineObject, context.Context) {
	a, ctx := arenaOf(ctx)
	o := inlineObject{a: a, start: len(a.buf)}
	a.buf = append(a.buf, '{')
	return o, ctx
}

// key writes a field's key; aliases are GraphQL names, never escaped, and
// CollectFields has merged fields of one alias.
func (o *inlineObject) key(i int, alias string) {
	if i > 0 {
		o.a.buf = append(o.a.buf, ',')
	}
	o.a.buf = append(o.a.buf, '"')
	o.a.buf = append(o.a.buf, alias...)
	o.a.buf = append(o.a.buf, '"', ':')
	o.mark = len(o.a.buf)
}

func (o *inlineObject) put(m graphql.Marshaler) {
	o.last = m
	o.a.place(o.mark, m)
}

// str writes a constant string (__typename).
func (o *inlineObject) str(s string) {
	o.last = nil
	o.a.buf = append(o.a.buf, '"')
	o.a.buf = append(o.a.buf, s...)
	o.a.buf = append(o.a.buf, '"')
}

// writeString writes a JSON string exactly as graphql.MarshalString does
// (escaping control characters, '\\' and '"', nothing else).
func (o *inlineObject) writeString(s string) {
	o.last = nil
	b := append(o.a.buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, '\\', 'u', '0', '0', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	o.a.buf = append(b, '"')
}

// writeOptString writes a nullable string: null when v is nil.
func (o *inlineObject) writeOptString(v *string) {
	if v == nil {
		o.last = nil
		o.a.buf = append(o.a.buf, "null"...)
		return
	}
	o.writeString(*v)
}

func (o *inlineObject) writeOptInt(v *int) {
	if v == nil {
		o.last = nil
		o.a.buf = append(o.a.buf, "null"...)
		return
	}
	o.writeInt(int64(*v))
}

func (o *inlineObject) writeOptInt32(v *int32) {
	if v == nil {
		o.last = nil
		o.a.buf = append(o.a.buf, "null"...)
		return
	}
	o.writeInt(int64(*v))
}

// writeStrings writes a non-null list of non-null strings (nil is []).
func (o *inlineObject) writeStrings(v []string) {
	o.a.buf = append(o.a.buf, '[')
	for i, s := range v {
		if i > 0 {
			o.a.buf = append(o.a.buf, ',')
		}
		o.writeString(s)
	}
	o.a.buf = append(o.a.buf, ']')
	o.last = nil
}

func (o *inlineObject) writeBool(v bool) {
	o.last = nil
	o.a.buf = strconv.AppendBool(o.a.buf, v)
}

func (o *inlineObject) writeInt(v int64) {
	o.last = nil
	o.a.buf = strconv.AppendInt(o.a.buf, v, 10)
}

// null drops the object: a non-null field of it was null.
func (o *inlineObject) null() graphql.Marshaler {
	o.a.buf = o.a.buf[:o.start]
	return graphql.Null
}

func (o *inlineObject) end() graphql.Marshaler {
	o.a.buf = append(o.a.buf, '}')
	return o.a.span(o.start)
}

// marshalSliceInline is graphql.MarshalSliceConcurrently without the
// goroutine per element, for lists whose elements resolve synchronously;
// it writes the list into the arena. The elements' field contexts come
// from the arena's frames. A panic in one element is recovered, reported
// at the element's path, and makes the list null.
func marshalSliceInline(ctx context.Context, length int, _ int64, omitPanicHandler bool, marshalElement func(ctx context.Context, i int) graphql.Marshaler) *inlineSpan {
	a, ctx := arenaOf(ctx)
	start := len(a.buf)
	a.buf = append(a.buf, '[')
	hasNull := false
	for i := 0; i < length; i++ {
		if i > 0 {
			a.buf = append(a.buf, ',')
		}
		mark := len(a.buf)
		f := a.frame()
		f.index = i
		f.fc = graphql.FieldContext{Index: &f.index}
		childCtx := a.withFrame(ctx, f)
		var el graphql.Marshaler
		if omitPanicHandler {
			el = marshalElement(childCtx, i)
		} else {
			failed := func() (failed bool) {
				defer func() {
					if r := recover(); r != nil {
						graphql.AddError(childCtx, graphql.Recover(childCtx, r))
						failed = true
					}
				}()
				el = marshalElement(childCtx, i)
				return false
			}()
			if failed {
				a.buf = append(a.buf[:start], "null"...)
				sp := a.span(start)
				sp.hasNull = true
				return sp
			}
		}
		a.place(mark, el)
		hasNull = hasNull || el == graphql.Null
	}
	a.buf = append(a.buf, ']')
	sp := a.span(start)
	sp.hasNull = hasNull
	return sp
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
