package metering

// This file parses metering.tenants (with their API keys) and
// metering.identification (how requests name their tenant).

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/yamlconf"
)

func (p *parser) identification(cfg *Config, n *yaml.Node) {
	prefixes := seen{}
	for i, item := range p.d.List(n, "metering.identification") {
		path := fmt.Sprintf("metering.identification[%d]", i)
		f, ok := p.d.Mapping(item, path, identKeys...)
		if !ok {
			continue
		}
		var r RouteIdentification
		if pn := f.Get("path_prefix"); pn == nil {
			p.errorf(f.Node, path, `missing path_prefix (hint: add "path_prefix: /")`)
		} else if r.PathPrefix, _ = p.d.String(pn, path+".path_prefix"); !strings.HasPrefix(r.PathPrefix, "/") {
			p.errorf(pn, path+".path_prefix", "path prefix %q must start with \"/\"", r.PathPrefix)
		} else {
			p.dup(prefixes, r.PathPrefix, pn, path+".path_prefix", "path prefix")
		}
		header := func(key string) string {
			hn := f.Get(key)
			if hn == nil {
				return ""
			}
			s, _ := p.d.String(hn, path+"."+key)
			s = strings.ToLower(s)
			if !validHeader(s) {
				p.errorf(hn, path+"."+key, "invalid header name %q (hint: letters, digits and '-', such as x-api-key)", s)
			}
			return s
		}
		r.APIKeyHeader, r.TrustedHeader = header("api_key_header"), header("trusted_header")
		switch {
		case f.Get("api_key_header") != nil && f.Get("trusted_header") != nil:
			p.errorf(f.Node, path, "set api_key_header or trusted_header, not both")
		case f.Get("trusted_header") == nil && r.APIKeyHeader == "":
			r.APIKeyHeader = DefaultAPIKeyHeader
		}
		cfg.Identification = append(cfg.Identification, r)
	}
	if len(cfg.Identification) == 0 {
		cfg.Identification = []RouteIdentification{{PathPrefix: "/", APIKeyHeader: DefaultAPIKeyHeader}}
	}
	sort.SliceStable(cfg.Identification, func(i, j int) bool {
		return len(cfg.Identification[i].PathPrefix) > len(cfg.Identification[j].PathPrefix)
	})
}

func (p *parser) tenants(cfg *Config, n *yaml.Node) {
	ids := seen{}
	keyLines := map[[32]byte]string{}
	for i, item := range p.d.List(n, "metering.tenants") {
		path := fmt.Sprintf("metering.tenants[%d]", i)
		f, ok := p.d.Mapping(item, path, tenantKeys...)
		if !ok {
			continue
		}
		t := Tenant{ID: p.name(f, "id", path, "tenant id")}
		if p.dup(ids, t.ID, f.Get("id"), path+".id", "tenant") {
			t.ID = ""
		}
		if pn := f.Get("plan"); pn == nil {
			p.errorf(f.Node, path, `missing plan (hint: add "plan: <plan name>")`)
		} else {
			t.Plan = p.planRef(cfg, pn, path+".plan")
		}
		for j, kn := range p.d.List(f.Get("api_keys"), path+".api_keys") {
			kpath := fmt.Sprintf("%s.api_keys[%d]", path, j)
			k, ok := p.apiKey(cfg, kn, kpath)
			if !ok {
				continue
			}
			if first, dup := keyLines[k.Hash]; dup {
				p.errorf(kn, kpath, "API key hash also listed at %s (hint: each key belongs to one tenant)", first)
				continue
			}
			keyLines[k.Hash] = fmt.Sprintf("line %d", yamlconf.Resolve(kn).Line)
			t.APIKeys = append(t.APIKeys, k)
		}
		cfg.Tenants = append(cfg.Tenants, t)
	}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		if t.ID == "" || t.Plan == "" {
			continue
		}
		cfg.tenants[t.ID] = t
	}
}

// planRef reads the name of a configured plan.
func (p *parser) planRef(cfg *Config, n *yaml.Node, path string) string {
	s, _ := p.d.String(n, path)
	if cfg.plans[s] == nil {
		p.errorf(n, path, "unknown plan %q (hint: define it under metering.plans)", s)
		return ""
	}
	return s
}

// apiKey reads "sha256:<hex>" or {hash: "sha256:<hex>", plan: <plan>}.
func (p *parser) apiKey(cfg *Config, n *yaml.Node, path string) (APIKey, bool) {
	var k APIKey
	hn := yamlconf.Resolve(n)
	hpath := path
	if hn.Kind == yaml.MappingNode {
		f, _ := p.d.Mapping(hn, path, apiKeyKeys...)
		if pn := f.Get("plan"); pn != nil {
			if k.Plan = p.planRef(cfg, pn, path+".plan"); k.Plan == "" {
				return k, false
			}
		}
		if hn = f.Get("hash"); hn == nil {
			p.errorf(f.Node, path, `missing hash (hint: add "hash: sha256:<hex>")`)
			return k, false
		}
		hpath += ".hash"
	}
	s, ok := p.d.String(hn, hpath)
	if !ok {
		return k, false
	}
	hexPart, found := strings.CutPrefix(s, "sha256:")
	b, err := hex.DecodeString(hexPart)
	if !found || err != nil || len(b) != 32 {
		p.errorf(hn, hpath, "API key must be \"sha256:\" and 64 hex digits, the SHA-256 of the key (hint: printf %%s \"$KEY\" | sha256sum); never put the key itself in config")
		return k, false
	}
	copy(k.Hash[:], b)
	return k, true
}
