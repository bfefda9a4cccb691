package cost

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
)

// Requested computes the cost of op before it runs: what it would cost if
// every list came back full. doc should be validated (gqlgen has done so by
// the time an OperationContextMutator runs); an unvalidated document is
// priced too, by field name, and one that names unknown fields or types,
// or whose fragments spread each other in a cycle, is an error.
//
// vars are the request's coerced variables; slicing arguments given as
// variables are read from them (int, int64, float64, json.Number; a list
// counts its length). @skip and @include are ignored: the field counts.
//
// Linear in the document: each fragment is priced once and its cost
// multiplied wherever it is spread.
func (m *Model) Requested(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) (int, error) {
	n, _, err := m.price(doc, op, vars, false)
	return n, err
}

// Track prices op like Requested and returns a Tracker for one execution
// of it, holding what the run-time accounting needs from the document
// (argument costs, connections read without their items, introspection).
func (m *Model) Track(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) (int, *Tracker, error) {
	n, extra, err := m.price(doc, op, vars, true)
	if err != nil {
		return n, nil, err
	}
	return n, &Tracker{m: m, extra: extra}, nil
}

func (m *Model) price(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, track bool) (int, map[*ast.Field]int, error) {
	if op == nil {
		return 0, nil, fmt.Errorf("cost: no operation")
	}
	var root *ast.Definition
	switch op.Operation {
	case ast.Mutation:
		root = m.schema.Mutation
	case ast.Subscription:
		root = m.schema.Subscription
	default:
		root = m.schema.Query
	}
	if root == nil {
		return 0, nil, fmt.Errorf("cost: the schema has no %s type", op.Operation)
	}
	w := walker{m: m, doc: doc, vars: vars, track: track}
	r, err := w.selectionSet(op.SelectionSet, root, 0)
	if err != nil {
		return 0, nil, err
	}
	return add(r.fixed, r.perItem), w.extra, nil
}

// maxDepth bounds the recursion of a hand-built document; a validated one
// is far shallower (the parser's own limits apply first).
const maxDepth = 10000

// cost is the price of a selection set per instance of its parent: fixed,
// plus perItem for every item of the enclosing connection's page (from its
// sized children); sized records that a sized child was selected.
type cost struct {
	fixed, perItem int
	sized          bool
}

func (c cost) plus(o cost) cost {
	return cost{fixed: add(c.fixed, o.fixed), perItem: add(c.perItem, o.perItem), sized: c.sized || o.sized}
}

func (c cost) or(o cost) cost {
	return cost{fixed: max(c.fixed, o.fixed), perItem: max(c.perItem, o.perItem), sized: c.sized || o.sized}
}

type fragMemo struct {
	done bool
	res  cost
	typ  *ast.Definition
}

type walker struct {
	m     *Model
	doc   *ast.QueryDocument
	vars  map[string]any
	frags map[string]fragMemo
	track bool
	extra map[*ast.Field]int
}

type group struct {
	typ string
	res cost
}

func (w *walker) selectionSet(set ast.SelectionSet, parent *ast.Definition, depth int) (cost, error) {
	if depth > maxDepth {
		return cost{}, fmt.Errorf("cost: selection nested deeper than %d", maxDepth)
	}
	var acc cost
	abstract := parent.Kind == ast.Interface || parent.Kind == ast.Union
	// On an abstract type only one concrete type's fragments apply to a
	// given value: price the most expensive.
	var groups []group
	merge := func(t *ast.Definition, r cost) {
		if !abstract || t == parent || t.Kind != ast.Object {
			acc = acc.plus(r)
			return
		}
		for i := range groups {
			if groups[i].typ == t.Name {
				groups[i].res = groups[i].res.plus(r)
				return
			}
		}
		groups = append(groups, group{typ: t.Name, res: r})
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			r, err := w.field(s, parent, depth)
			if err != nil {
				return cost{}, err
			}
			acc = acc.plus(r)
		case *ast.InlineFragment:
			t := parent
			if s.TypeCondition != "" {
				if t = w.m.schema.Types[s.TypeCondition]; t == nil {
					return cost{}, fmt.Errorf("cost: unknown type %s", s.TypeCondition)
				}
			}
			r, err := w.selectionSet(s.SelectionSet, t, depth+1)
			if err != nil {
				return cost{}, err
			}
			merge(t, r)
		case *ast.FragmentSpread:
			r, t, err := w.fragment(s, depth)
			if err != nil {
				return cost{}, err
			}
			merge(t, r)
		}
	}
	if len(groups) > 0 {
		best := groups[0].res
		for _, g := range groups[1:] {
			best = best.or(g.res)
		}
		acc = acc.plus(best)
	}
	return acc, nil
}

// fragment prices a named fragment once per document.
func (w *walker) fragment(s *ast.FragmentSpread, depth int) (cost, *ast.Definition, error) {
	if fm, ok := w.frags[s.Name]; ok {
		if !fm.done {
			return cost{}, nil, fmt.Errorf("cost: fragment %s spreads itself", s.Name)
		}
		return fm.res, fm.typ, nil
	}
	def := s.Definition
	if def == nil && w.doc != nil {
		def = w.doc.Fragments.ForName(s.Name)
	}
	if def == nil {
		return cost{}, nil, fmt.Errorf("cost: unknown fragment %s", s.Name)
	}
	t := w.m.schema.Types[def.TypeCondition]
	if t == nil {
		return cost{}, nil, fmt.Errorf("cost: unknown type %s", def.TypeCondition)
	}
	if w.frags == nil {
		n := 8
		if w.doc != nil {
			n = len(w.doc.Fragments)
		}
		w.frags = make(map[string]fragMemo, n)
	}
	w.frags[s.Name] = fragMemo{}
	r, err := w.selectionSet(def.SelectionSet, t, depth+1)
	if err != nil {
		return cost{}, nil, err
	}
	w.frags[s.Name] = fragMemo{done: true, res: r, typ: t}
	return r, t, nil
}

func (w *walker) field(f *ast.Field, parent *ast.Definition, depth int) (cost, error) {
	def := f.Definition
	if def == nil {
		if f.Name == "__typename" {
			return cost{}, nil
		}
		if def = parent.Fields.ForName(f.Name); def == nil {
			return cost{}, fmt.Errorf("cost: unknown field %s.%s", parent.Name, f.Name)
		}
	}
	fc := w.m.fields[def]
	if fc == nil {
		if len(f.SelectionSet) == 0 {
			return cost{}, nil
		}
		return cost{}, fmt.Errorf("cost: field %s.%s is not in the model's schema", parent.Name, f.Name)
	}
	argc := 0
	if len(fc.args) > 0 {
		argc = w.argCost(fc, f)
	}
	var extra int
	var c int
	switch fc.kind {
	case kindLeaf:
		c = add(fc.weight, argc)
	case kindIntro, kindObject:
		sub, err := w.selectionSet(f.SelectionSet, w.m.schema.Types[def.Type.Name()], depth+1)
		if err != nil {
			return cost{}, err
		}
		c = add(add(fc.weight, argc), sub.fixed)
		if fc.conn {
			size := w.size(fc, f)
			c = add(c, mul(size, sub.perItem))
			if !sub.sized {
				extra = mul(size, fc.itemWeight)
				c = add(c, extra)
			}
		}
		if fc.kind == kindIntro {
			c = min(c, fc.capCost)
			extra = c // charged whole at run time
		}
	case kindList:
		sub, err := w.selectionSet(f.SelectionSet, w.m.schema.Types[def.Type.Name()], depth+1)
		if err != nil {
			return cost{}, err
		}
		if fc.sizedChild {
			// Per item of the enclosing connection's page.
			w.index(f, fc, argc)
			return cost{fixed: add(fc.weight, argc), perItem: add(fc.elemWeight, sub.fixed), sized: true}, nil
		}
		c = add(add(fc.weight, argc), mul(w.size(fc, f), add(fc.elemWeight, sub.fixed)))
	}
	w.index(f, fc, add(argc, extra))
	return cost{fixed: c}, nil
}

// index remembers the per-instance charge a field adds beyond its weight,
// for the Tracker.
func (w *walker) index(f *ast.Field, fc *fieldCost, extra int) {
	if !w.track || !fc.extra || (extra == 0 && fc.kind != kindIntro) {
		return
	}
	if w.extra == nil {
		w.extra = map[*ast.Field]int{}
	}
	w.extra[f] = extra
}

// size is the list or page size a field asks for: the largest slicing
// argument given (a list argument counts its length), else assumedSize,
// else FallbackPageSize. A value above the executor's cap still counts.
func (w *walker) size(fc *fieldCost, f *ast.Field) int {
	n, found := 0, false
	for _, ad := range fc.slicing {
		var v *ast.Value
		if a := f.Arguments.ForName(ad.Name); a != nil {
			v = a.Value
		}
		k, ok := w.count(v)
		if !ok && !w.given(v) && ad.DefaultValue != nil {
			k, ok = w.count(ad.DefaultValue)
		}
		if ok {
			n, found = max(n, k), true
		}
	}
	switch {
	case found:
		return n
	case fc.assumed >= 0:
		return fc.assumed
	default:
		return FallbackPageSize
	}
}

// given reports whether an argument was given a non-null value.
func (w *walker) given(v *ast.Value) bool {
	if v == nil || v.Kind == ast.NullValue {
		return false
	}
	if v.Kind == ast.Variable {
		x, ok := w.vars[v.Raw]
		return ok && x != nil
	}
	return true
}

func (w *walker) count(v *ast.Value) (int, bool) {
	if v == nil {
		return 0, false
	}
	switch v.Kind {
	case ast.Variable:
		x, ok := w.vars[v.Raw]
		if !ok || x == nil {
			return 0, false
		}
		return countValue(x)
	case ast.IntValue:
		n, err := strconv.ParseInt(v.Raw, 10, 64)
		if err != nil {
			if len(v.Raw) > 0 && v.Raw[0] == '-' {
				return 0, true
			}
			return Cap, true
		}
		return clamp(n), true
	case ast.FloatValue:
		f, err := strconv.ParseFloat(v.Raw, 64)
		if err != nil {
			return Cap, true
		}
		return clampFloat(f), true
	case ast.ListValue:
		return len(v.Children), true
	}
	return 0, false
}

// countValue reads a size from a variable's value.
func countValue(x any) (int, bool) {
	switch n := x.(type) {
	case int:
		return clamp(int64(n)), true
	case int64:
		return clamp(n), true
	case int32:
		return clamp(int64(n)), true
	case float64:
		return clampFloat(n), true
	case float32:
		return clampFloat(float64(n)), true
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return clamp(i), true
		}
		if f, err := n.Float64(); err == nil {
			return clampFloat(f), true
		}
		return Cap, true
	case []any:
		return len(n), true
	case uint, uint8, uint16, uint32, uint64, int8, int16:
		return clampFloat(float64(reflect.ValueOf(n).Convert(reflect.TypeFor[float64]()).Float())), true
	}
	if rv := reflect.ValueOf(x); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return rv.Len(), true
	}
	return 0, false
}

func clamp(n int64) int {
	switch {
	case n < 0:
		return 0
	case n > Cap:
		return Cap
	}
	return int(n)
}

func clampFloat(f float64) int {
	switch {
	case math.IsNaN(f) || f < 0:
		return 0
	case f > Cap:
		return Cap
	}
	return int(math.Ceil(f))
}

// argCost adds @cost of the arguments given (a default counts as given)
// and of the input fields given inside them.
func (w *walker) argCost(fc *fieldCost, f *ast.Field) int {
	c := 0
	for _, a := range fc.args {
		var v *ast.Value
		if arg := f.Arguments.ForName(a.def.Name); arg != nil {
			v = arg.Value
		}
		if v == nil || (v.Kind == ast.Variable && !w.given(v)) {
			v = a.def.DefaultValue
		}
		if !w.given(v) {
			continue
		}
		c = add(c, a.weight)
		if a.input {
			c = add(c, w.inputCost(a.def.Type, v, 0))
		}
	}
	return c
}

func (w *walker) inputCost(t *ast.Type, v *ast.Value, depth int) int {
	if v == nil || t == nil || depth > 64 {
		return 0
	}
	if v.Kind == ast.Variable {
		return w.inputValueCost(t, w.vars[v.Raw], depth)
	}
	if t.Elem != nil {
		if v.Kind != ast.ListValue {
			return w.inputCost(t.Elem, v, depth+1)
		}
		c := 0
		for _, ch := range v.Children {
			c = add(c, w.inputCost(t.Elem, ch.Value, depth+1))
		}
		return c
	}
	def := w.m.schema.Types[t.NamedType]
	if def == nil || def.Kind != ast.InputObject || v.Kind != ast.ObjectValue {
		return 0
	}
	c := 0
	for _, ch := range v.Children {
		fd := def.Fields.ForName(ch.Name)
		if fd == nil || !w.given(ch.Value) {
			continue
		}
		c = add(c, w.m.inputField[fd])
		if w.m.inputHasCost[fd.Type.Name()] {
			c = add(c, w.inputCost(fd.Type, ch.Value, depth+1))
		}
	}
	return c
}

func (w *walker) inputValueCost(t *ast.Type, x any, depth int) int {
	if x == nil || t == nil || depth > 64 {
		return 0
	}
	if t.Elem != nil {
		list, ok := x.([]any)
		if !ok {
			return w.inputValueCost(t.Elem, x, depth+1)
		}
		c := 0
		for _, e := range list {
			c = add(c, w.inputValueCost(t.Elem, e, depth+1))
		}
		return c
	}
	def := w.m.schema.Types[t.NamedType]
	obj, ok := x.(map[string]any)
	if def == nil || def.Kind != ast.InputObject || !ok {
		return 0
	}
	c := 0
	for k, val := range obj {
		fd := def.Fields.ForName(k)
		if fd == nil || val == nil {
			continue
		}
		c = add(c, w.m.inputField[fd])
		if w.m.inputHasCost[fd.Type.Name()] {
			c = add(c, w.inputValueCost(fd.Type, val, depth+1))
		}
	}
	return c
}
