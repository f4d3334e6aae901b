package mcpserver

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/google/jsonschema-go/jsonschema"
)

// shareDefs moves every subschema of s that occurs more than once into
// $defs, where a "$ref" to it is shorter than its copies: output schemas of
// the shop's tools repeat whole objects (a review, a package, a payment) and
// the same "third-party text" string many times. The schema validates the
// same documents; tools/list carries each shared part once. s is modified.
func shareDefs(s *jsonschema.Schema) (*jsonschema.Schema, error) {
	for {
		name, key, ok := bestShared(s)
		if !ok {
			break
		}
		var def *jsonschema.Schema
		eachSubschema(s, func(p **jsonschema.Schema, _ string) {
			if canonical(*p) == key {
				if def == nil {
					def = *p
				}
				*p = &jsonschema.Schema{Ref: "#/$defs/" + name}
			}
		})
		if s.Defs == nil {
			s.Defs = map[string]*jsonschema.Schema{}
		}
		s.Defs[name] = def
	}
	if _, err := s.Resolve(nil); err != nil {
		return nil, fmt.Errorf("share defs: %w", err)
	}
	return s, nil
}

// eachSubschema calls f with a pointer to every subschema below s (in
// properties, items, additionalProperties and $defs, depth first, in a
// stable order) and the property name it sits under.
func eachSubschema(s *jsonschema.Schema, f func(p **jsonschema.Schema, prop string)) {
	var walk func(s *jsonschema.Schema, prop string)
	visit := func(p **jsonschema.Schema, prop string) {
		if *p == nil {
			return
		}
		walk(*p, prop) // children first: a shared parent replaces its own children's refs with it
		f(p, prop)
	}
	walk = func(s *jsonschema.Schema, prop string) {
		for _, k := range sortedKeys(s.Properties) {
			p := s.Properties[k]
			visit(&p, k)
			s.Properties[k] = p
		}
		visit(&s.Items, prop+"Item")
		visit(&s.AdditionalProperties, prop+"Value")
		for _, k := range sortedKeys(s.Defs) {
			p := s.Defs[k]
			walk(p, k)
		}
	}
	walk(s, "")
}

// bestShared finds the repeated subschema whose move to $defs saves the
// most bytes, and the name it gets (the property it first appears under).
func bestShared(s *jsonschema.Schema) (name, key string, ok bool) {
	type seen struct {
		count int
		name  string
	}
	counts := map[string]*seen{}
	eachSubschema(s, func(p **jsonschema.Schema, prop string) {
		if (*p).Ref != "" {
			return
		}
		k := canonical(*p)
		if counts[k] == nil {
			counts[k] = &seen{name: prop}
		}
		counts[k].count++
	})
	best := 0
	for _, k := range sortedKeys(counts) {
		c := counts[k]
		refLen := len(`{"$ref":"#/$defs/"}`) + len(c.name)
		saving := (len(k)-refLen)*c.count - len(k) - len(c.name) - 4
		if c.count >= 2 && saving > best {
			best, key, name = saving, k, c.name
		}
	}
	if key == "" {
		return "", "", false
	}
	base := name
	for i := 2; s.Defs[name] != nil; i++ {
		name = base + strconv.Itoa(i)
	}
	return name, key, true
}

// canonical is s as JSON, the key that finds its copies.
func canonical(s *jsonschema.Schema) string {
	b, _ := jsonText(s) // a schema always encodes
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
