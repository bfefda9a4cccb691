// Package cost prices GraphQL operations from the cost declared in the SDL
// (@cost and @listSize, the IBM GraphQL cost directive shape, with
// Shopify's defaults), measures what an execution actually cost, and
// charges both to budgets shared by every gateway instance through Redis.
//
// Three parts, usable on their own:
//   - Model: built once from the schema (NewModel). Requested prices a
//     validated document before it runs; Track does the same and returns a
//     Tracker that sums the actual cost while fields resolve.
//   - Buckets: leaky buckets in Redis, checked and charged atomically in one
//     Lua script (several buckets at once: all or none).
//   - Extension: the gqlgen handler extension that ties both to a request,
//     refuses with MAX_COST_EXCEEDED or THROTTLED (internal/apperr) and
//     reports extensions.cost in Shopify's shape.
//
// Pricing (per instance of a field; children are multiplied by the number
// of instances their parent can produce):
//   - scalar or enum leaf: 0; object: 1; mutation root field: 10;
//   - connection (a field whose type name ends in "Connection"): 2, plus 1
//     per item of its page; the page size comes from @listSize's slicing
//     arguments (first/last) and its sizedFields (edges, nodes) are lists of
//     that size; the node of an edge is paid by the item, so edges{node{…}}
//     and nodes{…} cost the same;
//   - other list of objects: 2 plus 1 per element, the size from a slicing
//     argument or assumedSize; a list of scalars prices as a leaf;
//   - @cost(weight:) on a field replaces that field's own weight, on a type
//     the weight of every field or element of that type, on an argument or
//     input field it is added when the value is given.
//
// Introspection (__schema, __type) is priced like any other selection with
// sizes taken from the schema itself (how many types, the most fields on a
// type, …), but one __schema selection never costs more than 100 and one
// __type more than 20: the standard IntrospectionQuery that GraphiQL and
// code generators send must fit a normal per-request maximum, while two
// thousand aliased __schema selections still cost 200,000.
//
// Every cost saturates at Cap, so no document can overflow the arithmetic.
package cost

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Cap is the largest cost this package reports: every sum and product
// saturates here, so a nest of first:250 lists cannot overflow.
const Cap = 1 << 40

// FallbackPageSize prices a list whose slicing arguments are all absent
// from the request while @listSize gives no assumedSize (the arguments are
// required): the largest page the executor would serve (relay.MaxPage).
const FallbackPageSize = 250

// Default weights, following Shopify's model.
const (
	objectWeight     = 1
	connectionWeight = 2
	listWeight       = 2
	mutationWeight   = 10
	schemaIntroCap   = 100
	typeIntroCap     = 20
	introAssumedSize = 100
)

type kind uint8

const (
	kindLeaf   kind = iota // scalar, enum or list of them
	kindObject             // object, interface or union (connections too)
	kindList               // list of objects
	kindIntro              // __schema / __type: subtree priced and capped, charged at the root
)

// fieldCost is the precomputed price of one field definition.
type fieldCost struct {
	name string // Type.field, for errors
	kind kind
	// weight is paid per instance: the object's weight, a list's overhead,
	// a leaf's weight.
	weight int
	// elemWeight is paid per element of a list.
	elemWeight int
	// sizedChild: a list whose size is the page size of the enclosing
	// connection (@listSize(sizedFields:) on the field returning its type).
	sizedChild bool
	// conn: an object field whose type has sized children.
	conn bool
	// itemWeight is what one item of the page costs when the selection
	// takes none of the sized children (pageInfo only): the rows are read
	// all the same.
	itemWeight int
	slicing    []*ast.ArgumentDefinition
	assumed    int // -1: none
	args       []argCost
	capCost    int // kindIntro
	// tracked: the field interceptor must record it (it costs something
	// at run time). Leaves without weight and fields below __schema/__type
	// return early.
	tracked bool
	// extra: the per-request index may hold an extra charge for this field
	// (argument costs, a connection read without its items, introspection).
	extra bool
}

// argCost prices one argument that carries @cost or whose input type has
// fields with @cost.
type argCost struct {
	def    *ast.ArgumentDefinition
	weight int
	input  bool
}

// Model is the cost model of one schema: immutable after NewModel and safe
// for concurrent use.
type Model struct {
	schema     *ast.Schema
	fields     map[*ast.FieldDefinition]*fieldCost
	typeWeight map[string]int
	// inputField holds @cost of input fields; inputHasCost the input types
	// whose values must be walked (a field with @cost, directly or below).
	inputField   map[*ast.FieldDefinition]int
	inputHasCost map[string]bool
}

// NewModel builds the cost model of s (the *ast.Schema gqlgen's
// ExecutableSchema.Schema() returns; the Extension must be given a model
// of that very value, because fields are matched by pointer).
//
// It fails, naming every offender, when a field is not priced: a list of
// objects with neither slicing arguments nor assumedSize, a connection
// without @listSize, a slicing argument the field does not have, a type
// whose lists are sized by some fields returning it and not by others, or
// a negative weight. Tests load the real schema through NewModel, so a
// field added without its cost fails them.
func NewModel(s *ast.Schema) (*Model, error) {
	if s == nil || s.Query == nil {
		return nil, errors.New("cost: schema has no query type")
	}
	b := &builder{
		m: &Model{
			schema:       s,
			fields:       map[*ast.FieldDefinition]*fieldCost{},
			typeWeight:   map[string]int{},
			inputField:   map[*ast.FieldDefinition]int{},
			inputHasCost: map[string]bool{},
		},
		sized: map[string]map[string]bool{},
	}
	b.names = make([]string, 0, len(s.Types))
	for name := range s.Types {
		b.names = append(b.names, name)
	}
	sort.Strings(b.names)
	for _, name := range b.names {
		b.typeWeightOf(name, 0)
	}
	b.inputs()
	b.sizedChildren()
	b.introSizes()
	for _, name := range b.names {
		def := s.Types[name]
		if def.Kind != ast.Object && def.Kind != ast.Interface {
			continue
		}
		for _, fd := range def.Fields {
			b.field(def, fd)
		}
	}
	if len(b.errs) > 0 {
		return nil, fmt.Errorf("cost: %w", errors.Join(b.errs...))
	}
	return b.m, nil
}

type builder struct {
	m     *Model
	names []string
	// sized maps a type to the names of its list fields sized by the
	// fields returning it.
	sized map[string]map[string]bool
	intro map[string]int
	errs  []error
}

func (b *builder) fail(format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf(format, args...))
}

// typeWeightOf is the weight of one value of the named type.
func (b *builder) typeWeightOf(name string, depth int) int {
	if w, ok := b.m.typeWeight[name]; ok {
		return w
	}
	def := b.m.schema.Types[name]
	if def == nil {
		return objectWeight
	}
	w, explicit, err := costOf(def.Directives)
	if err != nil {
		b.fail("type %s: %v", name, err)
	}
	if !explicit {
		switch {
		case def.Kind == ast.Scalar || def.Kind == ast.Enum:
			w = 0
		case def.Kind == ast.Object && strings.HasSuffix(name, "Connection"):
			w = connectionWeight
		case def.Kind == ast.Object && strings.HasSuffix(name, "Edge") && def.Fields.ForName("node") != nil && depth < 8:
			// An edge is one item of its connection: it weighs what its
			// node weighs, and the node field itself is free.
			w = b.typeWeightOf(def.Fields.ForName("node").Type.Name(), depth+1)
		case (def.Kind == ast.Interface || def.Kind == ast.Union) && depth < 8:
			w = 0
			for _, p := range b.m.schema.GetPossibleTypes(def) {
				w = max(w, b.typeWeightOf(p.Name, depth+1))
			}
			if len(b.m.schema.GetPossibleTypes(def)) == 0 {
				w = objectWeight
			}
		default:
			w = objectWeight
		}
	}
	b.m.typeWeight[name] = w
	return w
}

// inputs records @cost on input fields and which input types need their
// values walked.
func (b *builder) inputs() {
	s := b.m.schema
	for _, name := range b.names {
		def := s.Types[name]
		if def.Kind != ast.InputObject {
			continue
		}
		for _, fd := range def.Fields {
			w, explicit, err := costOf(fd.Directives)
			if err != nil {
				b.fail("%s.%s: %v", name, fd.Name, err)
			}
			if explicit && w > 0 {
				b.m.inputField[fd] = w
				b.m.inputHasCost[name] = true
			}
		}
	}
	// An input type containing one with costs must be walked too.
	for changed := true; changed; {
		changed = false
		for _, name := range b.names {
			def := s.Types[name]
			if def.Kind != ast.InputObject || b.m.inputHasCost[name] {
				continue
			}
			for _, fd := range def.Fields {
				if b.m.inputHasCost[fd.Type.Name()] {
					b.m.inputHasCost[name] = true
					changed = true
					break
				}
			}
		}
	}
}

// sizedChildren collects @listSize(sizedFields:) per returned type and
// checks that every field returning such a type sizes the same children.
func (b *builder) sizedChildren() {
	s := b.m.schema
	type origin struct {
		field string
		set   string
	}
	first := map[string]origin{}
	for _, name := range b.names {
		def := s.Types[name]
		if def.Kind != ast.Object && def.Kind != ast.Interface {
			continue
		}
		for _, fd := range def.Fields {
			ls := fd.Directives.ForName("listSize")
			if ls == nil {
				continue
			}
			names := stringsArg(ls, "sizedFields")
			if len(names) == 0 {
				continue
			}
			target := s.Types[fd.Type.Name()]
			where := name + "." + fd.Name
			if fd.Type.Elem != nil || target == nil || target.Kind != ast.Object {
				b.fail("%s: @listSize(sizedFields:) needs a field returning one object (a connection)", where)
				continue
			}
			set := map[string]bool{}
			for _, n := range names {
				child := target.Fields.ForName(n)
				if child == nil || child.Type.Elem == nil {
					b.fail("%s: sized field %q is not a list field of %s", where, n, target.Name)
					continue
				}
				set[n] = true
			}
			key := strings.Join(sortedKeys(set), ",")
			if o, ok := first[target.Name]; ok && o.set != key {
				b.fail("%s sizes [%s] of %s but %s sizes [%s]", where, key, target.Name, o.field, o.set)
				continue
			}
			first[target.Name] = origin{field: where, set: key}
			b.sized[target.Name] = set
		}
	}
}

// introSizes are the list sizes below __schema and __type, taken from the
// schema since the prelude cannot be annotated.
func (b *builder) introSizes() {
	s := b.m.schema
	var fields, enums, inputs, ifaces, possible, args int
	for _, def := range s.Types {
		switch def.Kind {
		case ast.Object, ast.Interface:
			fields = max(fields, len(def.Fields))
			for _, fd := range def.Fields {
				args = max(args, len(fd.Arguments))
			}
		case ast.Enum:
			enums = max(enums, len(def.EnumValues))
		case ast.InputObject:
			inputs = max(inputs, len(def.Fields))
		}
		ifaces = max(ifaces, len(def.Interfaces))
		possible = max(possible, len(s.GetPossibleTypes(def)))
	}
	dirArgs := 0
	for _, d := range s.Directives {
		dirArgs = max(dirArgs, len(d.Arguments))
	}
	b.intro = map[string]int{
		"__Schema.types":        len(s.Types),
		"__Schema.directives":   len(s.Directives),
		"__Type.fields":         fields,
		"__Type.interfaces":     ifaces,
		"__Type.possibleTypes":  possible,
		"__Type.enumValues":     enums,
		"__Type.inputFields":    inputs,
		"__Field.args":          args,
		"__Directive.args":      dirArgs,
		"__Directive.locations": 20,
	}
}

func (b *builder) field(parent *ast.Definition, fd *ast.FieldDefinition) {
	s := b.m.schema
	where := parent.Name + "." + fd.Name
	fc := &fieldCost{name: where, assumed: -1}
	target := s.Types[fd.Type.Name()]
	if target == nil {
		b.fail("%s: unknown type %s", where, fd.Type.Name())
		return
	}
	explicitW, explicit, err := costOf(fd.Directives)
	if err != nil {
		b.fail("%s: %v", where, err)
	}
	for _, ad := range fd.Arguments {
		w, _, err := costOf(ad.Directives)
		if err != nil {
			b.fail("%s(%s:): %v", where, ad.Name, err)
		}
		input := b.m.inputHasCost[ad.Type.Name()]
		if w > 0 || input {
			fc.args = append(fc.args, argCost{def: ad, weight: w, input: input})
		}
	}
	introType := strings.HasPrefix(parent.Name, "__")
	isList := fd.Type.Elem != nil
	leaf := target.Kind == ast.Scalar || target.Kind == ast.Enum
	root := parent == s.Mutation
	ls := fd.Directives.ForName("listSize")

	switch {
	case parent == s.Query && (fd.Name == "__schema" || fd.Name == "__type"):
		fc.kind = kindIntro
		fc.weight = b.typeWeightOf(target.Name, 0)
		fc.capCost = typeIntroCap
		if fd.Name == "__schema" {
			fc.capCost = schemaIntroCap
		}
	case leaf:
		fc.kind = kindLeaf
		fc.weight = b.typeWeightOf(target.Name, 0)
	case isList:
		fc.kind = kindList
		fc.elemWeight = b.typeWeightOf(target.Name, 0)
		fc.weight = listWeight
		if b.sized[parent.Name][fd.Name] {
			fc.sizedChild = true
			fc.weight = 0
		}
		if target.Kind == ast.Object && b.sized[target.Name] != nil {
			b.fail("%s: a list of %s cannot size its items' lists; return a single connection", where, target.Name)
		}
	default:
		fc.kind = kindObject
		fc.weight = b.typeWeightOf(target.Name, 0)
		if strings.HasSuffix(parent.Name, "Edge") && fd.Name == "node" {
			fc.weight = 0 // paid by the edge, one item of the connection
		}
	}
	if root && fc.kind != kindIntro {
		fc.weight = mutationWeight
	}
	if explicit {
		fc.weight = explicitW
	}

	// Sizes: @listSize, or built in below __schema/__type.
	if ls != nil {
		for _, n := range stringsArg(ls, "slicingArguments") {
			ad := fd.Arguments.ForName(n)
			if ad == nil {
				b.fail("%s: slicing argument %q is not an argument of the field", where, n)
				continue
			}
			fc.slicing = append(fc.slicing, ad)
		}
		if n, ok, err := intArg(ls, "assumedSize"); err != nil {
			b.fail("%s: assumedSize: %v", where, err)
		} else if ok {
			fc.assumed = n
		}
		requireOne := boolArg(ls, "requireOneSlicingArgument", true)
		if len(fc.slicing) > 0 && !requireOne && fc.assumed < 0 {
			b.fail("%s: slicing arguments are optional (requireOneSlicingArgument: false) but there is no assumedSize", where)
		}
		if fc.kind == kindLeaf || (fc.kind == kindObject && b.sized[target.Name] == nil) {
			b.fail("%s: @listSize on a field that is neither a list of objects nor a connection", where)
		}
	}
	if introType && fc.kind == kindList && ls == nil {
		fc.assumed = introAssumedSize
		if n, ok := b.intro[where]; ok {
			fc.assumed = max(n, 1)
		}
	}
	priced := len(fc.slicing) > 0 || fc.assumed >= 0
	switch {
	case fc.kind == kindList && !fc.sizedChild && !priced:
		b.fail("%s: list field has no cost: add @listSize(assumedSize: N) or @listSize(slicingArguments: [...])", where)
	case fc.kind == kindObject && b.sized[target.Name] != nil:
		fc.conn = true
		if ls == nil || len(stringsArg(ls, "sizedFields")) == 0 {
			b.fail("%s: returns %s, whose lists are sized by the field: add @listSize(slicingArguments: [...], sizedFields: [...])", where, target.Name)
		} else if !priced {
			b.fail("%s: connection has neither slicing arguments nor assumedSize", where)
		}
		for n := range b.sized[target.Name] {
			child := target.Fields.ForName(n)
			fc.itemWeight = max(fc.itemWeight, b.typeWeightOf(child.Type.Name(), 0))
		}
	case fc.kind == kindObject && strings.HasSuffix(target.Name, "Connection") && !introType:
		b.fail("%s: connection field has no @listSize(slicingArguments: [...], sizedFields: [...])", where)
	}
	fc.extra = len(fc.args) > 0 || fc.conn || fc.kind == kindIntro
	fc.tracked = !introType && (fc.kind != kindLeaf || fc.weight > 0 || len(fc.args) > 0)
	b.m.fields[fd] = fc
}

// costOf reads @cost(weight:) from a directive list.
func costOf(dl ast.DirectiveList) (weight int, explicit bool, err error) {
	d := dl.ForName("cost")
	if d == nil {
		return 0, false, nil
	}
	w, ok, err := intArg(d, "weight")
	if err != nil || !ok {
		return 0, false, fmt.Errorf("@cost needs an integer weight")
	}
	return w, true, nil
}

func intArg(d *ast.Directive, name string) (int, bool, error) {
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil || a.Value.Kind == ast.NullValue {
		return 0, false, nil
	}
	if a.Value.Kind != ast.IntValue {
		return 0, false, fmt.Errorf("%s must be an integer literal", name)
	}
	n, err := strconv.Atoi(a.Value.Raw)
	if err != nil || n < 0 || n > Cap {
		return 0, false, fmt.Errorf("%s must be between 0 and %d", name, Cap)
	}
	return n, true, nil
}

func stringsArg(d *ast.Directive, name string) []string {
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return nil
	}
	if a.Value.Kind == ast.StringValue {
		return []string{a.Value.Raw}
	}
	out := make([]string, 0, len(a.Value.Children))
	for _, c := range a.Value.Children {
		out = append(out, c.Value.Raw)
	}
	return out
}

func boolArg(d *ast.Directive, name string, def bool) bool {
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil || a.Value.Kind != ast.BooleanValue {
		return def
	}
	return a.Value.Raw == "true"
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// add and mul saturate at Cap; both operands are in [0, Cap].
func add(a, b int) int {
	if s := a + b; s < Cap {
		return s
	}
	return Cap
}

func mul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > Cap/b {
		return Cap
	}
	return min(a*b, Cap)
}
