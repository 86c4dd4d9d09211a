// Package leafobj writes GraphQL objects whose selected fields are all
// plain leaves in one pass.
//
// gqlgen executes every field of every object on its own: a field context,
// a context value, closures and a marshaler each, about a dozen
// allocations per field. A page of 50 events with 14 fields spends more on
// that than on reading the page from the database. Most fields of the
// log's records need none of it: they are scalars and enums read straight
// off the Go value, without arguments, directives or resolvers.
//
// The Extension is a gqlgen field interceptor. When a field returns an
// object type it knows (or a list of them), and every field selected on
// that object is one of the object's plain fields, __typename, or a child
// object it knows whose own selections follow the same rule (an edge's
// node), it lets the field resolve as usual (directives, resolvers and
// errors unchanged) and then writes the whole value with the objects'
// field writers, with the same JSON that gqlgen would have written. Any
// other selection (a field with a resolver, arguments or a directive,
// @defer) leaves the field to gqlgen.
package leafobj

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Field appends the JSON value of one plain field of v to b, or returns
// nil to leave the field's value to gqlgen (say, a value gqlgen reports as
// an error).
type Field[T any] func(b []byte, v *T) []byte

// Object lists the plain fields of one GraphQL object type bound to the
// Go type T, each with the writer of its value.
type Object[T any] struct {
	// Name is the GraphQL type's name.
	Name string
	// Fields maps a field name to its writer. Only fields without
	// arguments, directives or resolvers belong here.
	Fields map[string]Field[T]
	// Children maps a field name to the object it holds, written in the
	// same pass when its own selections allow (see One). The same rules
	// apply: no arguments, directives or resolvers.
	Children map[string]Child[T]

	typename  string   // Name as a JSON string
	satisfies []string // Name and the interfaces and unions it belongs to

	// plans keeps the plans of selection sets that no variable can
	// change, by field of the parsed document (the query cache keeps
	// documents across requests), held weakly so that a plan never keeps
	// a document alive; planCount bounds it.
	plans     sync.Map // weak.Pointer[ast.Field] → *plan[T]
	planCount atomic.Int64
	// size is the length of an object in the last value written, to size
	// the next.
	size atomic.Int64
}

// maxPlans bounds the plans an object keeps; past it they are dropped and
// built again as requests come.
const maxPlans = 4096

// Child is a field of an object of Go type T whose value is another
// object, written by that object's writers.
type Child[T any] interface {
	childType() string
	compile(oc *graphql.OperationContext, field graphql.CollectedField) (Field[T], bool)
}

// One returns the child field whose value get reads from its parent,
// written by obj, which the Extension must also be given.
func One[T, C any](obj *Object[C], get func(*T) *C) Child[T] {
	return oneChild[T, C]{obj: obj, get: get}
}

type oneChild[T, C any] struct {
	obj *Object[C]
	get func(*T) *C
}

func (c oneChild[T, C]) childType() string { return c.obj.Name }

func (c oneChild[T, C]) compile(oc *graphql.OperationContext, field graphql.CollectedField) (Field[T], bool) {
	p, ok := c.obj.compile(oc, field.Selections)
	if !ok {
		return nil, false
	}
	nonNull := field.Definition != nil && field.Definition.Type.NonNull
	return func(b []byte, v *T) []byte {
		child := c.get(v)
		if child == nil {
			if nonNull {
				return nil
			}
			return Null(b)
		}
		return c.obj.write(b, p, child)
	}, true
}

// Encoder is an *Object of any Go type.
type Encoder interface {
	typeName() string
	fieldNames() []string
	children() map[string]string
	bind(satisfies []string)
	marshal(oc *graphql.OperationContext, field graphql.CollectedField, res any) (graphql.Marshaler, bool)
}

func (o *Object[T]) typeName() string { return o.Name }

func (o *Object[T]) fieldNames() []string {
	names := make([]string, 0, len(o.Fields))
	for n := range o.Fields {
		names = append(names, n)
	}
	return names
}

func (o *Object[T]) children() map[string]string {
	types := make(map[string]string, len(o.Children))
	for n, c := range o.Children {
		types[n] = c.childType()
	}
	return types
}

func (o *Object[T]) bind(satisfies []string) {
	var b strings.Builder
	graphql.MarshalString(o.Name).MarshalGQL(&b)
	o.typename = b.String()
	o.satisfies = satisfies
}

// plan is the writing of one selection set: the key written before each
// field (with the brace or comma ahead of it) and the field's writer; a
// nil writer stands for __typename.
type plan[T any] struct {
	keys   []string
	fields []Field[T]
}

// planFor returns the plan of the field's selection set, from the cache
// when no variable can change it.
func (o *Object[T]) planFor(oc *graphql.OperationContext, field graphql.CollectedField) (*plan[T], bool) {
	// The selections are the field's own (not merged from several
	// mentions of it), and no @skip or @include applies to them.
	cacheable := field.Field != nil && slices.Equal(field.Selections, field.SelectionSet) && !hasDirectives(field.Selections, 0)
	var key weak.Pointer[ast.Field]
	if cacheable {
		key = weak.Make(field.Field)
		if p, ok := o.plans.Load(key); ok {
			return p.(*plan[T]), p.(*plan[T]) != nil
		}
	}
	p, ok := o.compile(oc, field.Selections)
	if cacheable {
		if o.planCount.Add(1) > maxPlans {
			o.plans.Clear()
			o.planCount.Store(1)
		}
		if !ok {
			p = nil
		}
		o.plans.Store(key, p)
	}
	return p, ok
}

// hasDirectives reports whether a directive appears on a selection, in
// fragments spread or inlined, down to a few levels.
func hasDirectives(sel ast.SelectionSet, depth int) bool {
	if depth > 8 {
		return true
	}
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if len(s.Directives) > 0 || hasDirectives(s.SelectionSet, depth+1) {
				return true
			}
		case *ast.InlineFragment:
			if len(s.Directives) > 0 || hasDirectives(s.SelectionSet, depth+1) {
				return true
			}
		case *ast.FragmentSpread:
			if len(s.Directives) > 0 || s.Definition == nil || len(s.Definition.Directives) > 0 ||
				hasDirectives(s.Definition.SelectionSet, depth+1) {
				return true
			}
		}
	}
	return false
}

// compile plans the selection set, or reports false when a selected field
// is not a plain field of the object.
func (o *Object[T]) compile(oc *graphql.OperationContext, sel ast.SelectionSet) (*plan[T], bool) {
	collected := graphql.CollectFields(oc, sel, o.satisfies)
	if len(collected) == 0 {
		return nil, false
	}
	p := &plan[T]{keys: make([]string, len(collected)), fields: make([]Field[T], len(collected))}
	var b strings.Builder
	for i, f := range collected {
		if len(f.Deferrables) > 0 {
			return nil, false
		}
		switch {
		case f.Name == "__typename":
		case len(f.Selections) == 0:
			fn := o.Fields[f.Name]
			if fn == nil {
				return nil, false
			}
			p.fields[i] = fn
		default:
			c := o.Children[f.Name]
			if c == nil {
				return nil, false
			}
			fn, ok := c.compile(oc, f)
			if !ok {
				return nil, false
			}
			p.fields[i] = fn
		}
		b.Reset()
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		graphql.MarshalString(f.Alias).MarshalGQL(&b)
		b.WriteByte(':')
		p.keys[i] = b.String()
	}
	return p, true
}

// write appends v as the plan selects it, or returns nil when a field
// leaves its value to gqlgen.
func (o *Object[T]) write(b []byte, p *plan[T], v *T) []byte {
	for i, key := range p.keys {
		b = append(b, key...)
		if fn := p.fields[i]; fn != nil {
			if b = fn(b, v); b == nil {
				return nil
			}
		} else {
			b = append(b, o.typename...)
		}
	}
	return append(b, '}')
}

// encoded is a value written ahead.
type encoded []byte

// MarshalGQL writes the value.
func (e encoded) MarshalGQL(w io.Writer) { _, _ = w.Write(e) }

// marshal writes res, the resolved value of field, when its shape is one
// this object writes: T, *T, []T or []*T. A nil object (and a nil element
// where the list's type forbids one) is left to gqlgen, which reports it,
// as is a value one of the field writers leaves to gqlgen.
func (o *Object[T]) marshal(oc *graphql.OperationContext, field graphql.CollectedField, res any) (graphql.Marshaler, bool) {
	typ := field.Definition.Type
	list := typ.Elem != nil
	if list && typ.Elem.Elem != nil {
		return nil, false
	}
	var one *T
	var ptrs []*T
	var vals []T
	switch v := res.(type) {
	case *T:
		one = v
	case T:
		one = &v
	case []*T:
		ptrs = v
	case []T:
		vals = v
	default:
		return nil, false
	}
	if one != nil == list || (list && ptrs == nil && vals == nil) {
		return nil, false
	}
	if list && typ.Elem.NonNull && slices.Contains(ptrs, nil) {
		return nil, false
	}
	p, ok := o.planFor(oc, field)
	if !ok {
		return nil, false
	}
	n := max(1, len(ptrs)+len(vals))
	b := make([]byte, 0, min(1<<20, int(o.size.Load())*n+64))
	switch {
	case one != nil:
		b = o.write(b, p, one)
	case ptrs != nil:
		b = append(b, '[')
		for i, e := range ptrs {
			if i > 0 {
				b = append(b, ',')
			}
			if e == nil {
				b = Null(b)
			} else if b = o.write(b, p, e); b == nil {
				break
			}
		}
		if b != nil {
			b = append(b, ']')
		}
	default:
		b = append(b, '[')
		for i := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			if b = o.write(b, p, &vals[i]); b == nil {
				break
			}
		}
		if b != nil {
			b = append(b, ']')
		}
	}
	if b == nil {
		return nil, false
	}
	o.size.Store(int64(len(b) / n))
	return encoded(b), true
}

var written atomic.Int64

// Written counts the field values this process has written in one pass
// (an object, or a list of them, each counts once).
func Written() int64 { return written.Load() }

// Extension is the gqlgen field interceptor that writes the objects it
// was given.
type Extension struct {
	objects map[string]Encoder
}

var (
	_ graphql.HandlerExtension = (*Extension)(nil)
	_ graphql.FieldInterceptor = (*Extension)(nil)
)

// New returns the extension for the given objects (each an *Object).
func New(objects ...Encoder) *Extension {
	e := &Extension{objects: make(map[string]Encoder, len(objects))}
	for _, o := range objects {
		e.objects[o.typeName()] = o
	}
	return e
}

// ExtensionName names the extension for gqlgen.
func (*Extension) ExtensionName() string { return "LeafObjects" }

// Validate checks each object against the schema: the type exists and is
// an object, and each field it writes exists without arguments or
// directives. It also learns the interfaces and unions each object
// belongs to, for fragments spread on them.
func (e *Extension) Validate(es graphql.ExecutableSchema) error {
	schema := es.Schema()
	for name, o := range e.objects {
		def := schema.Types[name]
		if def == nil || def.Kind != ast.Object {
			return fmt.Errorf("leaf objects: %s is not an object type of the schema", name)
		}
		for _, f := range o.fieldNames() {
			fd, err := plainField(def, f)
			if err != nil {
				return err
			}
			if t := schema.Types[fd.Type.Name()]; t == nil || (t.Kind != ast.Scalar && t.Kind != ast.Enum) {
				return fmt.Errorf("leaf objects: %s.%s is not a scalar or an enum", name, f)
			}
		}
		for f, child := range o.children() {
			fd, err := plainField(def, f)
			switch {
			case err != nil:
				return err
			case fd.Type.Elem != nil || fd.Type.Name() != child:
				return fmt.Errorf("leaf objects: %s.%s is not one %s", name, f, child)
			case e.objects[child] == nil:
				return fmt.Errorf("leaf objects: %s.%s holds a %s, which is not among the objects", name, f, child)
			}
		}
		satisfies := append([]string{name}, def.Interfaces...)
		for _, u := range schema.Types {
			if u.Kind == ast.Union {
				for _, member := range u.Types {
					if member == name {
						satisfies = append(satisfies, u.Name)
					}
				}
			}
		}
		o.bind(satisfies)
	}
	return nil
}

// plainField returns the field of def named f, or an error when it has
// none or the field takes arguments or carries a directive.
func plainField(def *ast.Definition, f string) (*ast.FieldDefinition, error) {
	fd := def.Fields.ForName(f)
	switch {
	case fd == nil:
		return nil, fmt.Errorf("leaf objects: %s has no field %s", def.Name, f)
	case len(fd.Arguments) > 0:
		return nil, fmt.Errorf("leaf objects: %s.%s takes arguments", def.Name, f)
	case len(fd.Directives) > 0:
		return nil, fmt.Errorf("leaf objects: %s.%s carries a directive", def.Name, f)
	}
	return fd, nil
}

// InterceptField resolves the field as usual and, where it can, writes
// the result itself.
func (e *Extension) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || len(fc.Field.Selections) == 0 || fc.Field.Definition == nil {
		return next(ctx)
	}
	o := e.objects[fc.Field.Definition.Type.Name()]
	if o == nil {
		return next(ctx)
	}
	res, err := next(ctx)
	if err != nil || res == nil {
		return res, err
	}
	if m, ok := o.marshal(graphql.GetOperationContext(ctx), fc.Field, res); ok {
		written.Add(1)
		return m, nil
	}
	return res, nil
}
