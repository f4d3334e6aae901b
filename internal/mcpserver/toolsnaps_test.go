package mcpserver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// TestToolSnapshots fails when a tool's public contract (name, description,
// annotations, input and output schema) changes without the snapshot in
// __toolsnaps__ being reviewed. Accept a change with UPDATE_TOOLSNAPS=true.
func TestToolSnapshots(t *testing.T) {
	svc := payments.New(nil, store.NewMemory(), payments.Options{})
	update := os.Getenv("UPDATE_TOOLSNAPS") == "true"
	seen := map[string]bool{}
	for _, tool := range Tools(Deps{Payments: svc, Shop: fullShop(t), Webhooks: &fakeWebhooks{}}) {
		def, err := tool.definition()
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.MarshalIndent(def, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("__toolsnaps__", def.Name+".snap")
		seen[filepath.Base(path)] = true
		want, err := os.ReadFile(path)
		if update || (os.IsNotExist(err) && os.Getenv("CI") == "") {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v (run with UPDATE_TOOLSNAPS=true to create it)", path, err)
		}
		var g, w any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal(want, &w)
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("%s changed (-snapshot +now); review and rerun with UPDATE_TOOLSNAPS=true:\n%s", def.Name, diff)
		}
	}
	entries, _ := os.ReadDir("__toolsnaps__")
	for _, e := range entries {
		if !seen[e.Name()] {
			t.Errorf("stale snapshot %s: the tool no longer exists", e.Name())
		}
	}
}
