package mcpserver

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

var marshalerType = reflect.TypeFor[json.Marshaler]()

// compactOutput reduces an output schema inferred from t to what a client
// uses it for, the shape of structuredContent (property names, JSON types,
// nesting), so that tools/list costs a third less (docs/result-sizes.md):
//
//   - No property descriptions and no "required": a model reads a tool's
//     description and input schema (no common client shows it the output
//     schema), so what a result field means for acting on it is said in
//     the tool description; the Go types keep their field comments and
//     struct tags as documentation. A client that validates accepts the
//     same results.
//   - No "additionalProperties": false on the objects the SDK infers from
//     structs. Results are written by this server, never by a client, and
//     the properties are all listed.
//   - No "null" in the type of an optional property (omitempty or
//     omitzero) whose Go type is a pointer, slice or map: encoding/json
//     omits such a field when it is nil, so null never appears. Not when
//     the type (or the pointed-to type) has its own MarshalJSON, which may
//     write null.
//
// Every result that validated before still validates. s is modified.
func compactOutput(t reflect.Type, s *jsonschema.Schema) {
	if s == nil {
		return
	}
	s.Description, s.Required = "", nil
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if ap := s.AdditionalProperties; ap != nil && ap.Not != nil && reflect.ValueOf(*ap.Not).IsZero() {
			s.AdditionalProperties = nil
		}
		// As the SDK infers: the visible fields in order, the last one
		// with a name giving that property its schema.
		fields := map[string]reflect.StructField{}
		optional := map[string]bool{}
		for _, f := range reflect.VisibleFields(t) {
			if f.Anonymous || !f.IsExported() {
				continue
			}
			name, opt, ok := jsonName(f)
			if !ok {
				continue
			}
			fields[name], optional[name] = f, opt
		}
		for name, f := range fields {
			p := s.Properties[name]
			if p == nil {
				continue
			}
			if optional[name] && neverNull(f.Type) && len(p.Types) == 2 && p.Types[0] == "null" {
				p.Type, p.Types = p.Types[1], nil
			}
			compactOutput(f.Type, p)
		}
	case reflect.Slice, reflect.Array:
		compactOutput(t.Elem(), s.Items)
	case reflect.Map:
		compactOutput(t.Elem(), s.AdditionalProperties)
	}
}

// jsonName is the JSON name of a struct field as encoding/json writes it,
// whether it is omitted when empty or zero, and false for a field never
// written ("-").
func jsonName(f reflect.StructField) (name string, optional, ok bool) {
	name = f.Name
	tag, has := f.Tag.Lookup("json")
	if !has {
		return name, false, true
	}
	first, rest, found := strings.Cut(tag, ",")
	if first == "-" && !found {
		return "", false, false
	}
	if first != "" {
		name = first
	}
	for opt := range strings.SplitSeq(rest, ",") {
		if opt == "omitempty" || opt == "omitzero" {
			optional = true
		}
	}
	return name, optional, true
}

// neverNull reports whether an omitempty field of type t, when written at
// all, is never null: a nil pointer, slice or map is left out, and a
// non-nil one is written as its value, unless a MarshalJSON decides.
func neverNull(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Slice, reflect.Map:
		return !t.Implements(marshalerType) && !reflect.PointerTo(t).Implements(marshalerType)
	case reflect.Pointer:
		e := t.Elem()
		if t.Implements(marshalerType) || e.Implements(marshalerType) {
			return false
		}
		switch e.Kind() {
		case reflect.Pointer, reflect.Interface:
			return false
		}
		return true
	}
	return false
}
