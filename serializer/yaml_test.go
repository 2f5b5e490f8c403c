package serializer_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kete-dev/kete"
)

func TestYAMLRoundTrip(t *testing.T) {
	s := mustNew(t, "yaml", "")
	for _, kind := range []kete.Kind{kete.KindEvent, kete.KindAdminEvent} {
		t.Run(string(kind), func(t *testing.T) {
			var got, want map[string]any
			out := serialize(t, s, trickyEvent(kind))
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("invalid YAML %s: %v", out, err)
			}
			// The same fields as the JSON serializer, with the same values.
			js := serialize(t, mustNew(t, "json", ""), trickyEvent(kind))
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			want["time"] = 1 // YAML decodes integers as int
			if !reflect.DeepEqual(got, want) {
				t.Errorf("YAML\n%s\ndecodes to %v\nwant %v", out, got, want)
			}
		})
	}
	var keys yaml.Node
	if err := yaml.Unmarshal(serialize(t, s, adminEvent()), &keys); err != nil {
		t.Fatal(err)
	}
	var order []string
	for i, n := range keys.Content[0].Content {
		if i%2 == 0 {
			order = append(order, n.Value)
		}
	}
	if want := "id time realmId realmName authDetails resourceType operationType resourcePath representation error resourceTypeAsString"; strings.Join(order, " ") != want {
		t.Errorf("YAML key order %v, want %s", order, want)
	}
}
