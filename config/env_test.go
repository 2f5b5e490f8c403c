package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestEnvOverridesFile(t *testing.T) {
	file := `
kete.routes.ws.destination.url=ws://file/
kete.routes.ws.destination.pool.max-total=7
kete.routes.ws.destination.headers.X-Tenant=file
kete.routes.ws.realm-matchers.my_realms=list:master
kete.routes.my-ws.destination.url=ws://my/
kete.routes.audit_log.destination.url=ws://audit/
kete.spool.dir=/var/lib/kete
`
	c := parse(t, file,
		"KETE_ROUTES_WS_DESTINATION_POOL_MAX_TOTAL=5",
		"KETE_ROUTES_WS_DESTINATION_HEADERS_X_TENANT=env",
		"KETE_ROUTES_WS_DESTINATION_HEADERS_X_REQUEST_SOURCE=kete",
		"KETE_ROUTES_WS_REALM_MATCHERS_MY_REALMS=list:acme",
		"KETE_ROUTES_WS_EVENT_MATCHERS_ONLY_LOGINS=glob:LOGIN*",
		"KETE_ROUTES_MY_WS_ENABLED=false",
		"KETE_ROUTES_AUDIT_LOG_RETRY_MAX_ATTEMPTS=9",
		"KETE_ROUTES_NEW_ROUTE_DESTINATION_URL=ws://new/",
		"KETE_ROUTES_AUDIT_RETRY__DESTINATION_URL=ws://ar/",
		"KETE_ROUTES_AUDIT_RETRY__ENABLED=false",
		"KETE_KEYCLOAK_CLIENT_SECRET=${env:KC_SECRET}",
		"KETE_KEYCLOAK_CLIENT_ID=kete-admin",
		"KC_SECRET=from-env",
		"KETE_SPOOL_DIR=",
		"KETE_CONFIG=/etc/kete.properties",
		"OTHER_VAR=ignored",
	)
	ws := c.Route("ws")
	var names []string
	for _, r := range c.Routes {
		names = append(names, r.Name)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"routes: file spellings kept, new ones lower-case with dashes", names, []string{"audit-retry", "audit_log", "my-ws", "new-route", "ws"}},
		{"env wins over file", ws.Destination.Pool.MaxTotal, 5},
		{"header spelled as in the file, new header canonical", ws.Destination.Headers, map[string]string{"X-Tenant": "env", "X-Request-Source": "kete"}},
		{"matcher spelled as in the file", ws.RealmMatchers[0].Name + "=" + ws.RealmMatchers[0].Spec, "my_realms=list:acme"},
		{"new matcher", ws.EventMatchers[0].Name, "only-logins"},
		{"dashed route from the file", c.Route("my-ws").Enabled, false},
		{"underscored route from the file", c.Route("audit_log").Retry.MaxAttempts, 9},
		{"route only in the environment", c.Route("new-route").Destination.URL, "ws://new/"},
		{"double underscore ends the name", c.Route("audit-retry").Enabled, false},
		{"references resolve in env values", c.Keycloak.ClientSecret, "from-env"},
		{"empty variable ignored", c.Spool.Dir, "/var/lib/kete"},
		{"origin recorded", c.explicit["kete.routes.ws.destination.pool.max-total"], "KETE_ROUTES_WS_DESTINATION_POOL_MAX_TOTAL"},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
}

func TestEnvRouteNameResolution(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    []string // route names in the file
		varName string
		want    string // key, or "error: <text>"
	}{
		{"env only: shortest name leaving a known key", nil, "KETE_ROUTES_AUDIT_RETRY_ENABLED", "kete.routes.audit.retry.enabled"},
		{"env only: dashed name", nil, "KETE_ROUTES_AUDIT_WS_DESTINATION_URL", "kete.routes.audit-ws.destination.url"},
		{"file name beats the shortest", []string{"audit-retry"}, "KETE_ROUTES_AUDIT_RETRY_ENABLED", "kete.routes.audit-retry.enabled"},
		{"two file routes fit", []string{"ws", "ws-retry"}, "KETE_ROUTES_WS_RETRY_ENABLED", "error: ambiguous"},
		{"double underscore settles it", []string{"ws", "ws-retry"}, "KETE_ROUTES_WS_RETRY__ENABLED", "kete.routes.ws-retry.enabled"},
		{"double underscore, other route", []string{"ws", "ws-retry"}, "KETE_ROUTES_WS__RETRY_ENABLED", "kete.routes.ws.retry.enabled"},
		{"nested key with enabled", []string{"ws"}, "KETE_ROUTES_WS_DESTINATION_TLS_ENABLED", "kete.routes.ws.destination.tls.enabled"},
		{"store key", nil, "KETE_ROUTES_WS_DESTINATION_TLS_KEY_STORE_KEY_PASSWORD", "kete.routes.ws.destination.tls.key-store.key-password"},
		{"global key", nil, "KETE_SOURCES_KEYCLOAK_REALMS", "kete.sources.keycloak.realms"},
		{"server store", nil, "KETE_SERVER_TLS_KEY_STORE_LOADER_PATH", "kete.server.tls.key-store.loader.path"},
		{"typo", []string{"ws"}, "KETE_ROUTES_WS_DESTINATION_TSL_ENABLED", "error: did you mean KETE_ROUTES_WS_DESTINATION_TLS_ENABLED?"},
		{"typo, no file", nil, "KETE_ROUTES_WS_DESTINATION_TSL_ENABLED", `error: read as route "ws-destination-tsl"`},
		{"new route sharing a file route's prefix", []string{"ws"}, "KETE_ROUTES_WS_BACKUP_DESTINATION_URL", "error: write KETE_ROUTES_<ROUTE>__<KEY>"},
		{"that route with the double underscore", []string{"ws"}, "KETE_ROUTES_WS_BACKUP__DESTINATION_URL", "kete.routes.ws-backup.destination.url"},
		{"no key", nil, "KETE_ROUTES_WS", "error: names no configuration key"},
		{"empty route name", nil, "KETE_ROUTES___ENABLED", "error: the route name is empty"},
		{"matcher without a name", nil, "KETE_ROUTES_WS_REALM_MATCHERS_", "error: names no configuration key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := map[string]setting{}
			for _, r := range tc.file {
				file["kete.routes."+r+".enabled"] = setting{raw: "true"}
			}
			got, err := newKeyIndex(file).resolve(tc.varName)
			if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("resolve(%s) = %q, %v; want an error saying %q", tc.varName, got, err, want)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("resolve(%s) = %q, %v; want %q", tc.varName, got, err, tc.want)
			}
		})
	}
}

func TestEveryKeyHasAVariable(t *testing.T) {
	// Each fixed key maps to a variable that maps back to it, for a route from the file.
	idx := newKeyIndex(map[string]setting{"kete.routes.my-route.enabled": {raw: "true"}})
	keys := []string{}
	for _, f := range globalFields(defaultConfig()) {
		keys = append(keys, "kete."+f.key)
	}
	for _, f := range routeFields(defaultRoute("my-route")) {
		if !f.prefix {
			keys = append(keys, "kete.routes.my-route."+f.key)
		}
	}
	for _, key := range keys {
		got, err := idx.resolve(envName(key))
		if err != nil || got != key {
			t.Errorf("%s → %s → %q, %v", key, envName(key), got, err)
		}
	}
}
