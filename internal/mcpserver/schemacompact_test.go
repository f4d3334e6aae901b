package mcpserver

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

// nullText marshals "" as null, as money.Decimal does.
type nullText string

func (n nullText) MarshalJSON() ([]byte, error) {
	if n == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(n))
}

type compactItem struct {
	Name string `json:"name" jsonschema:"what the model reads in the tool description instead"`
}

type compactOut struct {
	Req      *int                   `json:"req"`
	Opt      *int                   `json:"opt,omitempty"`
	OptZero  *int                   `json:"opt_zero,omitzero"`
	Text     *nullText              `json:"text,omitempty"`
	Items    []compactItem          `json:"items,omitempty"`
	ReqItems []compactItem          `json:"req_items"`
	ByName   map[string]compactItem `json:"by_name,omitempty"`
	Nested   *compactItem           `json:"nested,omitempty"`
	Skipped  string                 `json:"-"`
	compactItem
}

func TestCompactOutput(t *testing.T) {
	s, err := jsonschema.For[compactOut](nil)
	if err != nil {
		t.Fatal(err)
	}
	before := canonical(s)
	compactOutput(reflect.TypeFor[compactOut](), s)
	after := canonical(s)
	for _, noise := range []string{`"additionalProperties":false`, `"description"`, `"required"`} {
		if strings.Contains(after, noise) {
			t.Errorf("%s left: %s", noise, after)
		}
	}
	wantTypes := map[string]string{
		"req":       `["null","integer"]`, // required: a nil pointer is written as null
		"opt":       `"integer"`,
		"opt_zero":  `"integer"`,
		"text":      `["null","string"]`, // its MarshalJSON writes null
		"items":     `"array"`,
		"req_items": `["null","array"]`,
		"by_name":   `"object"`,
		"nested":    `"object"`,
	}
	for name, want := range wantTypes {
		p := s.Properties[name]
		var got []byte
		if p.Type != "" {
			got, _ = json.Marshal(p.Type)
		} else {
			got, _ = json.Marshal(p.Types)
		}
		if string(got) != want {
			t.Errorf("%s: type %s, want %s (before: %s)", name, got, want, before)
		}
	}
	if s.Properties["by_name"].AdditionalProperties == nil || s.Properties["by_name"].AdditionalProperties.Type != "object" {
		t.Errorf("a map's value schema was dropped: %s", after)
	}
	if len(after) >= len(before) {
		t.Errorf("nothing compacted: %d -> %d bytes", len(before), len(after))
	}

	// Whatever encoding/json writes for the type validates as before.
	resolved, err := s.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	one, empty := 1, nullText("")
	for i, v := range []compactOut{
		{},
		{Req: &one, Opt: &one, OptZero: &one, Text: &empty, Items: []compactItem{{Name: "a"}}, ReqItems: []compactItem{},
			ByName: map[string]compactItem{"k": {Name: "b"}}, Nested: &compactItem{Name: "c"}, compactItem: compactItem{Name: "d"}},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if err := resolved.Validate(doc); err != nil {
			t.Errorf("value %d (%s) no longer validates: %v", i, b, err)
		}
	}
	// An explicit null where Go never writes one is refused.
	if resolved.Validate(map[string]any{"req": nil, "req_items": nil, "name": "x", "opt": nil}) == nil {
		t.Error(`"opt": null validates`)
	}
}

// TestResultsMatchOutputSchemas: every tool's result, as an agent gets it
// with defaults, validates against the output schema tools/list shows
// (compacted and with shared $defs), as the TypeScript SDK client checks.
func TestResultsMatchOutputSchemas(t *testing.T) {
	e, results := everyToolResult(t)
	tools, err := e.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]*jsonschema.Resolved{}
	for _, tool := range tools.Tools {
		b, err := json.Marshal(tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		var s jsonschema.Schema
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", tool.Name, err)
		}
		if schemas[tool.Name], err = s.Resolve(nil); err != nil {
			t.Fatalf("%s: %v", tool.Name, err)
		}
	}
	checked := 0
	for _, r := range results {
		if r.res.IsError || r.res.StructuredContent == nil {
			continue
		}
		b, err := json.Marshal(r.res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if err := schemas[r.name].Validate(doc); err != nil {
			t.Errorf("%s: structuredContent does not match the output schema: %v", r.label, err)
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("only %d results checked", checked)
	}
}
