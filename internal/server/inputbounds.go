package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"cartograph/internal/apperr"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// StringBounds are the narrower bounds, in characters, of string inputs
// whose domain needs one: keyed by input field or argument name (every
// field of that name, in every input type), or by schema coordinate
// ("Type.field" for an input field, "Type.field(arg)" for an argument),
// which wins over the name. Every other string input — String, ID and the
// string-carried custom scalars, list elements included — is bounded by
// MAX_STRING_INPUT. README "Input bounds" lists the same table.
var StringBounds = map[string]int{
	"email":                254, // RFC 5321 path limit
	"password":             256,
	"firstName":            255,
	"lastName":             255,
	"name":                 255,
	"company":              255,
	"address1":             255,
	"address2":             255,
	"city":                 255,
	"province":             255,
	"country":              64,
	"zip":                  32,
	"phone":                32,
	"discountCodes":        255,
	"giftCardCodes":        255,
	"idempotencyKey":       255,
	"handle":               255,
	"productHandle":        255,
	"key":                  255,  // cart and line attribute keys
	"after":                1024, // opaque cursors
	"before":               1024,
	"query":                1000, // search strings
	"customerAccessToken":  2048,
	"refreshToken":         2048,
	"referenceDocumentUri": 2048,
	"reason":               1000,
	"scopes":               64,
	// Attribute values and notes keep the general bound; option values
	// are names.
	"SelectedOptionInput.value": 255,
}

// inputBounds refuses, before anything executes, any string input longer
// than its bound: BAD_USER_INPUT naming the field (extensions.field is the
// path from the argument, extensions.maxLength the bound). It walks the
// arguments of every field in the document with their schema types, so a
// value is bounded the same whether it is written inline or passed as a
// variable.
type inputBounds struct {
	schema *ast.Schema
	def    int
}

var (
	_ graphql.HandlerExtension        = (*inputBounds)(nil)
	_ graphql.OperationContextMutator = (*inputBounds)(nil)
)

func (*inputBounds) ExtensionName() string { return "InputBounds" }
func (b *inputBounds) Validate(es graphql.ExecutableSchema) error {
	b.schema = es.Schema()
	return nil
}

// Bound returns the length bound of a string input: its coordinate's, else
// its name's, else def (never above def).
func Bound(coord, name string, def int) int {
	n, ok := StringBounds[coord]
	if !ok {
		n, ok = StringBounds[name]
	}
	if !ok || n > def {
		return def
	}
	return n
}

// tooLong carries the first violation out of the walk.
type tooLong struct {
	path []string
	max  int
}

func (b *inputBounds) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Doc == nil || b.schema == nil {
		return nil
	}
	var bad *tooLong
	for _, op := range oc.Doc.Operations {
		if bad = b.selections(op.SelectionSet, oc.Variables, 0); bad != nil {
			break
		}
	}
	if bad == nil {
		for _, f := range oc.Doc.Fragments {
			if bad = b.selections(f.SelectionSet, oc.Variables, 0); bad != nil {
				break
			}
		}
	}
	if bad == nil {
		return nil
	}
	field := strings.Join(bad.path, ".")
	return &gqlerror.Error{
		Message:    fmt.Sprintf("%s is longer than %d characters", field, bad.max),
		Extensions: map[string]any{"code": string(apperr.BadUserInput), "field": bad.path, "maxLength": bad.max},
	}
}

func (b *inputBounds) selections(ss ast.SelectionSet, vars map[string]any, depth int) *tooLong {
	if depth > maxWalk {
		return nil
	}
	for _, s := range ss {
		switch x := s.(type) {
		case *ast.Field:
			if x.Definition != nil && x.ObjectDefinition != nil {
				for _, a := range x.Arguments {
					ad := x.Definition.Arguments.ForName(a.Name)
					if ad == nil {
						continue
					}
					coord := x.ObjectDefinition.Name + "." + x.Definition.Name + "(" + a.Name + ")"
					if bad := b.ast(a.Value, ad.Type, coord, a.Name, []string{a.Name}, vars, 0); bad != nil {
						return bad
					}
				}
			}
			if bad := b.selections(x.SelectionSet, vars, depth+1); bad != nil {
				return bad
			}
		case *ast.InlineFragment:
			if bad := b.selections(x.SelectionSet, vars, depth+1); bad != nil {
				return bad
			}
		}
	}
	return nil
}

// ast checks a literal (or a variable, looked up in vars) of type t.
func (b *inputBounds) ast(v *ast.Value, t *ast.Type, coord, name string, path []string, vars map[string]any, depth int) *tooLong {
	if v == nil || t == nil || depth > maxWalk {
		return nil
	}
	switch v.Kind {
	case ast.Variable:
		val, ok := vars[v.Raw]
		if !ok {
			return nil
		}
		return b.value(val, t, coord, name, path, depth)
	case ast.StringValue, ast.BlockValue:
		if max := Bound(coord, name, b.def); len(v.Raw) > max && utf8.RuneCountInString(v.Raw) > max {
			return &tooLong{path: path, max: max}
		}
	case ast.ListValue:
		elem := t
		if t.Elem != nil {
			elem = t.Elem
		}
		for i, c := range v.Children {
			if bad := b.ast(c.Value, elem, coord, name, appendPath(path, strconv.Itoa(i)), vars, depth+1); bad != nil {
				return bad
			}
		}
	case ast.ObjectValue:
		def := b.schema.Types[t.Name()]
		if def == nil {
			return nil
		}
		for _, c := range v.Children {
			fd := def.Fields.ForName(c.Name)
			if fd == nil {
				continue
			}
			if bad := b.ast(c.Value, fd.Type, def.Name+"."+c.Name, c.Name, appendPath(path, c.Name), vars, depth+1); bad != nil {
				return bad
			}
		}
	default:
		// A single value where a list is expected is coerced to a list of
		// one; the element bound is the same, so nothing changes.
	}
	return nil
}

// value checks a variable's (already coerced) value of type t.
func (b *inputBounds) value(v any, t *ast.Type, coord, name string, path []string, depth int) *tooLong {
	if depth > maxWalk {
		return nil
	}
	switch x := v.(type) {
	case string:
		if max := Bound(coord, name, b.def); len(x) > max && utf8.RuneCountInString(x) > max {
			return &tooLong{path: path, max: max}
		}
	case []any:
		elem := t
		if t.Elem != nil {
			elem = t.Elem
		}
		for i, e := range x {
			if bad := b.value(e, elem, coord, name, appendPath(path, strconv.Itoa(i)), depth+1); bad != nil {
				return bad
			}
		}
	case map[string]any:
		def := b.schema.Types[t.Name()]
		if def == nil {
			return nil
		}
		for k, e := range x {
			fd := def.Fields.ForName(k)
			if fd == nil {
				continue
			}
			if bad := b.value(e, fd.Type, def.Name+"."+k, k, appendPath(path, k), depth+1); bad != nil {
				return bad
			}
		}
	}
	return nil
}

func appendPath(p []string, s string) []string {
	out := make([]string, len(p), len(p)+1)
	copy(out, p)
	return append(out, s)
}
