package auth

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestSourcePolicy(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		allowed []string
		denied  []string
	}{
		{"empty allows all", nil, []string{"1.2.3.4", "::1"}, nil},
		{"docs default", []string{"0.0.0.0/0"}, []string{"1.2.3.4", "127.0.0.1", "::ffff:10.0.0.1"}, []string{"::1", "2001:db8::1"}},
		{"single IPs", []string{"10.0.0.1", "::1"}, []string{"10.0.0.1", "::1"}, []string{"10.0.0.2", "::2"}},
		{"CIDR", []string{"10.0.0.0/8", "192.168.1.0/24"}, []string{"10.255.0.1", "192.168.1.200"}, []string{"11.0.0.1", "192.168.2.1"}},
		{"IPv6 CIDR", []string{"2001:db8::/32"}, []string{"2001:db8:1::5"}, []string{"2001:db9::1", "10.0.0.1"}},
		{"deny only", []string{"!10.0.0.0/8"}, []string{"11.0.0.1", "::1"}, []string{"10.1.2.3"}},
		{"deny wins over allow", []string{"10.0.0.0/8", "!10.1.0.0/16"}, []string{"10.2.0.1"}, []string{"10.1.0.1", "12.0.0.1"}},
		{"deny wins whatever the order", []string{"!10.1.2.3", "10.0.0.0/8"}, []string{"10.1.2.4"}, []string{"10.1.2.3"}},
		{"deny a single IPv6", []string{"::/0", "!2001:db8::dead"}, []string{"2001:db8::beef"}, []string{"2001:db8::dead"}},
		{"mapped prefix is IPv4", []string{"::ffff:10.0.0.0/104"}, []string{"10.9.9.9"}, []string{"11.0.0.1"}},
		{"non-canonical CIDR is masked", []string{"10.1.2.3/8"}, []string{"10.200.0.1"}, nil},
		{"space and zone", []string{" !fe80::1%eth0 ", "::/0"}, []string{"fe80::2"}, []string{"fe80::1", "fe80::1%eth1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseSourcePolicy(tt.entries)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range tt.allowed {
				if !p.Allows(netip.MustParseAddr(a)) {
					t.Errorf("%s denied", a)
				}
			}
			for _, a := range tt.denied {
				if p.Allows(netip.MustParseAddr(a)) {
					t.Errorf("%s allowed", a)
				}
			}
		})
	}
}

func TestSourcePolicyRemoteAddr(t *testing.T) {
	p, err := ParseSourcePolicy([]string{"127.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"127.0.0.1:5555": true, "[::1]:80": true, "[::ffff:127.0.0.1]:1": true, "10.0.0.1:80": false,
		"127.0.0.1": true, "garbage": false, "": false,
	} {
		if got := p.AllowsRemoteAddr(addr); got != want {
			t.Errorf("AllowsRemoteAddr(%q) = %v, want %v", addr, got, want)
		}
	}
	var none *SourcePolicy
	if !none.AllowsRemoteAddr("garbage") || !none.Allows(netip.Addr{}) {
		t.Error("nil policy must allow everything")
	}
}

func TestParseSourcePolicyErrors(t *testing.T) {
	_, err := ParseSourcePolicy([]string{"10.0.0.0/8", "10.0.0.300", "!", "example.com", "10.0.0.0/33"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`#2 "10.0.0.300"`, `#3 "!": empty entry`, `#4 "example.com"`, `#5 "10.0.0.0/33"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "#1") {
		t.Errorf("good entry reported: %v", err)
	}
}

func TestClientAddr(t *testing.T) {
	proxies, err := ParseSourcePolicy([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted *SourcePolicy
		want    string
	}{
		{"no proxies: XFF ignored", "203.0.113.7:1234", []string{"1.1.1.1"}, nil, "203.0.113.7"},
		{"empty proxy list: XFF ignored", "10.0.0.5:1234", []string{"1.1.1.1"}, &SourcePolicy{}, "10.0.0.5"},
		{"untrusted peer: XFF ignored", "203.0.113.7:1234", []string{"1.1.1.1"}, proxies, "203.0.113.7"},
		{"trusted proxy", "10.0.0.5:1234", []string{"198.51.100.9"}, proxies, "198.51.100.9"},
		{"client-forged hops on the left are skipped", "10.0.0.5:1234", []string{"6.6.6.6, 198.51.100.9, 10.0.0.4"}, proxies, "198.51.100.9"},
		{"several header lines", "10.0.0.5:1234", []string{"6.6.6.6", "198.51.100.9"}, proxies, "198.51.100.9"},
		{"garbage hop stops the walk", "10.0.0.5:1234", []string{"198.51.100.9, junk, 10.0.0.4"}, proxies, "10.0.0.4"},
		{"only proxies", "10.0.0.5:1234", []string{"10.0.0.9"}, proxies, "10.0.0.9"},
		{"no XFF", "10.0.0.5:1234", nil, proxies, "10.0.0.5"},
		{"IPv6 hop with port", "10.0.0.5:1234", []string{"[2001:db8::1]:443"}, proxies, "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://127.0.0.1/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientAddr(r, tt.trusted); got != netip.MustParseAddr(tt.want) {
				t.Fatalf("ClientAddr = %v, want %s", got, tt.want)
			}
		})
	}
}
