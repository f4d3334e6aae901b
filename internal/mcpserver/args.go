package mcpserver

import (
	"encoding/json"
	"fmt"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/suggest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// defaultMaxLength bounds every string argument whose tool sets no bound
// of its own, so that no argument, and no error about one, can be large.
const defaultMaxLength = 256

// echoLimit is the most of an argument's text an error message quotes.
const echoLimit = 100

// boundStrings gives every string in s (properties, items, nested
// objects) a maxLength, defaultMaxLength where the tool set none.
func boundStrings(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if isType(s, "string") && s.MaxLength == nil {
		s.MaxLength = ptr(defaultMaxLength)
	}
	for _, p := range s.Properties {
		boundStrings(p)
	}
	boundStrings(s.Items)
}

func isType(s *jsonschema.Schema, t string) bool {
	return s.Type == t || slices.Contains(s.Types, t)
}

// argSchema is a tool's input schema with its patterns compiled, for
// normalize.
type argSchema struct {
	root     *jsonschema.Schema
	patterns map[*jsonschema.Schema]*regexp.Regexp
}

func newArgSchema(s *jsonschema.Schema) (*argSchema, error) {
	a := &argSchema{root: s, patterns: map[*jsonschema.Schema]*regexp.Regexp{}}
	var walk func(*jsonschema.Schema) error
	walk = func(s *jsonschema.Schema) error {
		if s == nil {
			return nil
		}
		if s.Pattern != "" {
			re, err := regexp.Compile(s.Pattern)
			if err != nil {
				return fmt.Errorf("pattern %q: %w", s.Pattern, err)
			}
			a.patterns[s] = re
		}
		for _, p := range s.Properties {
			if err := walk(p); err != nil {
				return err
			}
		}
		return walk(s.Items)
	}
	return a, walk(s)
}

// normalize rewrites the unambiguous forms of an argument into the one the
// schema wants, before validation: a value of a closed set in another
// case ("usd", "Payment_URI"), text around a value, a number or boolean
// sent as a string. What it cannot place gets a plain message, with the
// value meant suggested where one is close; the rest is left to the
// schema's validation.
func (a *argSchema) normalize(field string, s *jsonschema.Schema, v any) (any, *toolerr.Error) {
	if s == nil || v == nil {
		return v, nil
	}
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range s.Properties {
			if val, ok := x[k]; ok {
				nv, err := a.normalize(join(field, k), sub, val)
				if err != nil {
					return v, err
				}
				x[k] = nv
			}
		}
	case []any:
		if s.Items != nil {
			for i, val := range x {
				nv, err := a.normalize(field+"[]", s.Items, val)
				if err != nil {
					return v, err
				}
				x[i] = nv
			}
		}
	case string:
		switch {
		case isType(s, "string"):
			return a.closest(field, s, x)
		case isType(s, "number"), isType(s, "integer"):
			t := strings.TrimSpace(x)
			if numberRE.MatchString(t) {
				if f, err := strconv.ParseFloat(t, 64); err == nil {
					return f, nil
				}
			}
			return v, toolerr.InvalidArg(field, "must be a number, such as 12.5 (got text)")
		case isType(s, "boolean"):
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
			return v, toolerr.InvalidArg(field, "must be true or false")
		}
	}
	return v, nil
}

// numberRE is a JSON number.
var numberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// closest places a string in s's closed set (enum) or pattern.
func (a *argSchema) closest(field string, s *jsonschema.Schema, x string) (any, *toolerr.Error) {
	if s.MaxLength != nil && utf8.RuneCountInString(x) > *s.MaxLength {
		return x, toolerr.InvalidArg(field, fmt.Sprintf("at most %d characters (got %d)", *s.MaxLength, utf8.RuneCountInString(x)))
	}
	if len(s.Enum) > 0 {
		var values []string
		for _, e := range s.Enum {
			if str, ok := e.(string); ok {
				values = append(values, str)
			}
		}
		if slices.Contains(values, x) {
			return x, nil
		}
		key := enumKey(x)
		for _, val := range values {
			if enumKey(val) == key {
				return val, nil
			}
		}
		msg := fmt.Sprintf("%s is not one of %s", quote(x), strings.Join(values, ", "))
		if best := closestValue(x, values); best != "" {
			msg += "; did you mean " + best + "?"
		}
		return x, toolerr.New(toolerr.CodeInvalidArgument, field+": "+msg, map[string]any{"field": field, "allowed": values})
	}
	re := a.patterns[s]
	if re == nil || re.MatchString(x) {
		return x, nil
	}
	t := strings.TrimSpace(x)
	for _, c := range []string{t, strings.ToUpper(t), strings.ToLower(t)} {
		if re.MatchString(c) {
			return c, nil
		}
	}
	return x, nil // validation says what is wrong, in plain words (explain)
}

// enumKey compares closed-set values loosely: case, spaces, - and _.
func enumKey(s string) string {
	return strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// closestValue returns the value of values closest to x, if close enough to be
// what was meant.
func closestValue(x string, values []string) string {
	k := enumKey(x)
	if len(k) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, v := range values {
		vk := enumKey(v)
		if len(k) >= 3 && (strings.HasPrefix(vk, k) || strings.HasPrefix(k, vk)) {
			return v
		}
		if d := suggest.Distance(k, vk); d < bestD && d < max(len(vk)/2, 1) {
			best, bestD = v, d
		}
	}
	return best
}

func join(field, k string) string {
	if field == "" {
		return k
	}
	return field + "." + k
}

// quote quotes at most echoLimit characters of s.
func quote(s string) string {
	return strconv.Quote(clip(s))
}

// clip cuts s to echoLimit characters, saying how long it was.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= echoLimit {
		return s
	}
	n := 0
	for i := range s {
		if n == echoLimit {
			return fmt.Sprintf("%s… (%d characters)", s[:i], utf8.RuneCountInString(s))
		}
		n++
	}
	return s
}

// explain says a schema validation failure in words an agent can act on,
// without the schema library's regular expressions or the value itself.
func (a *argSchema) explain(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	i := strings.LastIndex(msg, "validating /")
	if i < 0 {
		return clip(cleanSchemaError(err))
	}
	rest := msg[i+len("validating "):]
	path, detail, _ := strings.Cut(rest, ": ")
	keyword, _, _ := strings.Cut(detail, ":")
	s, field := a.lookup(path)
	if s == nil {
		return clip(cleanSchemaError(err))
	}
	switch keyword {
	case "pattern", "format":
		if s.Description != "" {
			return field + ": not in the expected form: " + s.Description
		}
		return field + ": not in the expected form"
	case "maxLength":
		return fmt.Sprintf("%s: at most %d characters", field, *s.MaxLength)
	case "minLength":
		if *s.MinLength == 1 {
			return field + ": must not be empty"
		}
		return fmt.Sprintf("%s: at least %d characters", field, *s.MinLength)
	case "type":
		return field + ": must be " + typeWords(s)
	case "enum":
		var values []string
		for _, e := range s.Enum {
			values = append(values, fmt.Sprint(e))
		}
		return field + ": must be one of " + strings.Join(values, ", ")
	}
	return clip(cleanSchemaError(err))
}

// lookup finds the schema at a validation path such as
// /properties/products/items/properties/product_id, and names it as an
// agent wrote it: products[].product_id.
func (a *argSchema) lookup(path string) (*jsonschema.Schema, string) {
	s, field := a.root, ""
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := 0; i < len(parts); i++ {
		switch {
		case parts[i] == "properties" && i+1 < len(parts) && s.Properties[parts[i+1]] != nil:
			s, field = s.Properties[parts[i+1]], join(field, parts[i+1])
			i++
		case parts[i] == "items" && s.Items != nil:
			s, field = s.Items, field+"[]"
		default:
			return nil, ""
		}
	}
	return s, field
}

func typeWords(s *jsonschema.Schema) string {
	var words []string
	for _, t := range append([]string{s.Type}, s.Types...) {
		switch t {
		case "string":
			words = append(words, "text")
		case "number":
			words = append(words, "a number")
		case "integer":
			words = append(words, "a whole number")
		case "boolean":
			words = append(words, "true or false")
		case "array":
			words = append(words, "a list")
		case "object":
			words = append(words, "an object")
		case "null":
			words = append(words, "null")
		}
	}
	return strings.Join(words, " or ")
}

// boundEcho returns pe with every long string argument it quotes cut to
// echoLimit characters, and its message to a few lines at most: an error
// about a megabyte argument stays small.
func boundEcho(pe *toolerr.Error, raw json.RawMessage) *toolerr.Error {
	var long []string
	var collect func(any)
	collect = func(v any) {
		switch x := v.(type) {
		case string:
			if utf8.RuneCountInString(x) > echoLimit {
				long = append(long, x)
			}
		case map[string]any:
			for k, e := range x {
				collect(k)
				collect(e)
			}
		case []any:
			for _, e := range x {
				collect(e)
			}
		}
	}
	if len(raw) > 2*echoLimit {
		var args any
		if json.Unmarshal(raw, &args) == nil {
			collect(args)
		}
	}
	cut := func(s string) string {
		for _, l := range long {
			if strings.Contains(s, l) {
				s = strings.ReplaceAll(s, l, clip(l))
			}
			if q := strconv.Quote(l); strings.Contains(s, q[1:len(q)-1]) {
				s = strings.ReplaceAll(s, q[1:len(q)-1], clip(l))
			}
		}
		return clipBytes(s, 1000)
	}
	out := *pe
	out.Message = cut(pe.Message)
	if len(pe.Details) > 0 {
		out.Details = make(map[string]any, len(pe.Details))
		for k, v := range pe.Details {
			if s, ok := v.(string); ok {
				v = cut(s)
			}
			out.Details[k] = v
		}
	}
	return &out
}

// clipBytes cuts s to at most n bytes on a character boundary.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
