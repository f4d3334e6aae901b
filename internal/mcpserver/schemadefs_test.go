package mcpserver

import (
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

func TestShareDefs(t *testing.T) {
	type review struct {
		Author  string `json:"author" jsonschema:"third-party text, wrapped in <untrusted> ... </untrusted>"`
		Content string `json:"content" jsonschema:"third-party text, wrapped in <untrusted> ... </untrusted>"`
		Score   int    `json:"score"`
	}
	type out struct {
		Best    review   `json:"best"`
		Reviews []review `json:"reviews"`
		Worst   *review  `json:"worst,omitempty"`
	}
	s, err := jsonschema.For[out](nil)
	if err != nil {
		t.Fatal(err)
	}
	before := canonical(s)
	orig, err := jsonschema.For[out](nil) // shareDefs modifies s
	if err != nil {
		t.Fatal(err)
	}
	plain, err := orig.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := shareDefs(s)
	if err != nil {
		t.Fatal(err)
	}
	after := canonical(shared)
	if len(after) >= len(before) || !strings.Contains(after, `"$ref":"#/$defs/`) {
		t.Fatalf("nothing shared: %d -> %d bytes: %s", len(before), len(after), after)
	}
	resolved, err := shared.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	docs := []struct {
		doc   map[string]any
		valid bool
	}{
		{map[string]any{"best": map[string]any{"author": "a", "content": "c", "score": 1}, "reviews": []any{}}, true},
		{map[string]any{"best": map[string]any{"author": "a", "content": "c", "score": 1}, "reviews": []any{map[string]any{"author": "b", "content": "d", "score": 2}}}, true},
		{map[string]any{"best": map[string]any{"author": 1, "content": "c", "score": 1}, "reviews": []any{}}, false},
		{map[string]any{"best": map[string]any{"author": "a", "content": "c", "score": 1}, "reviews": []any{map[string]any{"author": "b"}}}, false},
		{map[string]any{"best": map[string]any{"author": "a", "content": "c", "score": 1}, "reviews": []any{}, "worst": map[string]any{"score": "x"}}, false},
	}
	for i, d := range docs {
		if got, want := resolved.Validate(d.doc) == nil, plain.Validate(d.doc) == nil; got != want || got != d.valid {
			t.Errorf("doc %d: valid %v with $defs, %v without, want %v", i, got, want, d.valid)
		}
	}
}
