package cost

import (
	"context"
	"reflect"
	"sync/atomic"

	"github.com/vektah/gqlparser/v2/ast"
)

// Tracker sums the actual cost of one execution as its fields resolve:
// Σ over resolved object fields of their weight, plus for every list its
// overhead and one item per element actually returned. When every list
// comes back full the sum equals Requested; shorter lists, null objects
// and skipped fields make it smaller (gqlgen merges repeated selections of
// one response key, which Requested counts each time, so it is never
// larger unless a list returns more than its assumedSize).
//
// Get one from Model.Track. Safe for concurrent use: fields resolve in
// parallel. Recording allocates nothing.
type Tracker struct {
	m     *Model
	extra map[*ast.Field]int
	total atomic.Int64
}

// Resolved records one resolved instance of f, the field as it appears in
// the validated document, whose resolver returned result: a list's length
// is read from the slice. Fields that cost nothing at run time return at
// once.
func (t *Tracker) Resolved(f *ast.Field, result any) {
	fc := t.m.fields[f.Definition]
	if fc == nil || !fc.tracked {
		return
	}
	n := 0
	if fc.kind == kindList {
		n = lengthOf(result)
	}
	t.record(fc, f, n)
}

// Record records one resolved instance of f whose list (if f is a list
// field) had length elements.
func (t *Tracker) Record(f *ast.Field, length int) {
	fc := t.m.fields[f.Definition]
	if fc == nil || !fc.tracked {
		return
	}
	t.record(fc, f, length)
}

// Record records one resolved instance of f into the tracker of the
// request ctx belongs to (none: nothing). It is for fields the codegen
// plugin resolves without gqlgen's field middleware, which InterceptField
// therefore never sees; length is a list's length, 0 for an object.
func Record(ctx context.Context, f *ast.Field, length int) {
	if f == nil {
		return
	}
	if t, _ := ctx.Value(trackerKey{}).(*Tracker); t != nil {
		t.Record(f, length)
	}
}

// TrackerOf is the tracker of the request ctx belongs to (nil: none).
func TrackerOf(ctx context.Context) *Tracker {
	t, _ := ctx.Value(trackerKey{}).(*Tracker)
	return t
}

// Actual is the cost recorded so far.
func (t *Tracker) Actual() int {
	return int(min(t.total.Load(), Cap))
}

func (t *Tracker) record(fc *fieldCost, f *ast.Field, length int) {
	c := fc.weight
	switch {
	case fc.kind == kindIntro:
		if v, ok := t.extra[f]; ok {
			c = v
		}
		t.total.Add(int64(c))
		return
	case fc.kind == kindList:
		c = add(c, mul(max(length, 0), fc.elemWeight))
	}
	if fc.extra {
		c = add(c, t.extra[f])
	}
	if c != 0 {
		t.total.Add(int64(c))
	}
}

// lengthOf is the number of elements a list resolver returned.
func lengthOf(v any) int {
	switch l := v.(type) {
	case nil:
		return 0
	case []any:
		return len(l)
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return 0
		}
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return rv.Len()
	}
	return 1
}
