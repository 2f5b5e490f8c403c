package auth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// SourcePolicy is an app's clientSourceAddress or adminSourceAddress list: IP addresses
// and CIDR prefixes that allow, and the same preceded by "!" that deny. A nil or empty
// policy allows everything; a policy with only denials allows everything else; otherwise
// an address must match an allow entry. A deny entry always wins over an allow entry.
// IPv4-mapped IPv6 addresses are matched as IPv4; note that "0.0.0.0/0" allows every IPv4
// address but no IPv6 one ("::/0" does that).
//
// The policy is evaluated on the address the server is given, normally the request's
// RemoteAddr. X-Forwarded-For is not trusted unless the server names its proxies: see
// ClientAddr.
type SourcePolicy struct {
	allow, deny []netip.Prefix
}

// ParseSourcePolicy reads the entries. Each bad entry is named in the error, all at once.
func ParseSourcePolicy(entries []string) (*SourcePolicy, error) {
	p := &SourcePolicy{}
	var errs []error
	for i, raw := range entries {
		entry := strings.TrimSpace(raw)
		deny := false
		if rest, ok := strings.CutPrefix(entry, "!"); ok {
			deny, entry = true, strings.TrimSpace(rest)
		}
		prefix, err := parseSourceEntry(entry)
		if err != nil {
			errs = append(errs, fmt.Errorf("source address #%d %q: %w", i+1, raw, err))
			continue
		}
		if deny {
			p.deny = append(p.deny, prefix)
		} else {
			p.allow = append(p.allow, prefix)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func parseSourceEntry(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errors.New("empty entry (want an IP address or CIDR, optionally preceded by !)")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Allows reports whether addr may connect. An invalid addr is allowed only by an empty policy.
func (p *SourcePolicy) Allows(addr netip.Addr) bool {
	if p.empty() {
		return true
	}
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, d := range p.deny {
		if d.Contains(addr) {
			return false
		}
	}
	if len(p.allow) == 0 {
		return true
	}
	for _, a := range p.allow {
		if a.Contains(addr) {
			return true
		}
	}
	return false
}

// AllowsRemoteAddr is Allows for an http.Request.RemoteAddr ("host:port"); an address that
// does not parse is allowed only by an empty policy.
func (p *SourcePolicy) AllowsRemoteAddr(remoteAddr string) bool {
	return p.Allows(parseHostAddr(remoteAddr))
}

func (p *SourcePolicy) empty() bool { return p == nil || len(p.allow) == 0 && len(p.deny) == 0 }

// matches is true when the policy lists addr and allows it; unlike Allows, an empty policy
// matches nothing. It is how trusted proxies are recognised.
func (p *SourcePolicy) matches(addr netip.Addr) bool {
	return !p.empty() && addr.IsValid() && p.Allows(addr)
}

// ClientAddr is the address a source policy should judge. Without trusted proxies (nil or
// empty) it is the request's RemoteAddr and X-Forwarded-For is ignored, since any client can
// write that header. When RemoteAddr is a trusted proxy, X-Forwarded-For is read from the
// right and the first address that is not a trusted proxy is returned. The zero Addr means
// RemoteAddr did not parse.
func ClientAddr(r *http.Request, trustedProxies *SourcePolicy) netip.Addr {
	remote := parseHostAddr(r.RemoteAddr)
	if !trustedProxies.matches(remote) {
		return remote
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := remote
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseHostAddr(strings.TrimSpace(hops[i]))
		if !a.IsValid() {
			break // a hop we cannot read: stop at the last one we could
		}
		client = a
		if !trustedProxies.matches(a) {
			break
		}
	}
	return client
}

// parseHostAddr reads "ip", "ip:port", "[ipv6]:port" or "[ipv6]"; the zero Addr otherwise.
func parseHostAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}
