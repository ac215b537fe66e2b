package metering

// Catalog lists what usage queries can name: the configured meters and
// tenants, in config order. The usage console fills its pickers from it.
type Catalog struct {
	Meters  []CatalogMeter  `json:"meters"`
	Tenants []CatalogTenant `json:"tenants"`
}

// CatalogMeter is one meter of a Catalog.
type CatalogMeter struct {
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Source string `json:"source"`
	Type   string `json:"type"`
}

// CatalogTenant is one tenant of a Catalog.
type CatalogTenant struct {
	ID   string `json:"id"`
	Plan string `json:"plan"`
}

// Catalog returns the configured meters and tenants.
func (r *Reporter) Catalog() Catalog {
	c := Catalog{Meters: make([]CatalogMeter, 0, len(r.cfg.Meters)), Tenants: make([]CatalogTenant, 0, len(r.cfg.Tenants))}
	for i := range r.cfg.Meters {
		m := &r.cfg.Meters[i]
		c.Meters = append(c.Meters, CatalogMeter{Name: m.Name, Unit: m.Unit, Source: m.Source.String(), Type: m.Type.String()})
	}
	for _, t := range r.cfg.Tenants {
		c.Tenants = append(c.Tenants, CatalogTenant{ID: t.ID, Plan: t.Plan})
	}
	return c
}
