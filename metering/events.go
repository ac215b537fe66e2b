package metering

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// maxRequestIDLen bounds the x-request-id kept verbatim in event ids;
// longer ones are hashed.
const maxRequestIDLen = 128

// eventID returns an event's idempotency token: "<meter>/<x-request-id>".
// With the event's Time (the request start) and its counter, it names the
// request's event for one meter, so a retried Check or a replayed access
// log writes the same identity again. Without a request id (or with one
// over maxRequestIDLen bytes) the request id part is "h:" and a hash of the
// request id, tenant, method, path and start.
func eventID(token, requestID, tenant, method, path string, start time.Time) string {
	if requestID != "" && len(requestID) <= maxRequestIDLen {
		return token + "/" + requestID
	}
	h := sha256.New()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(start.UnixNano()))
	for _, s := range [...]string{requestID, tenant, method, path} {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(s)))
		h.Write(l[:])
		h.Write([]byte(s))
	}
	h.Write(ts[:])
	var sum [sha256.Size]byte
	return token + "/h:" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// counterName returns the counter a meter's event of tenant goes to:
// "<tenant>", or "<tenant>/<route prefix>" for meters grouped by route.
// Tenant ids hold no '/', so names never collide.
func (mt *Meter) counterName(tenant, routePrefix string) string {
	if mt.GroupByRoute {
		return tenant + "/" + routePrefix
	}
	return tenant
}

// quantity is what mt counts for one request: 1, its request or response
// body bytes, its duration in milliseconds, or the number in a header.
func (mt *Meter) quantity(requestBytes, responseBodyBytes int64, duration time.Duration, headers map[string]string) int64 {
	switch mt.Value {
	case ValueRequests:
		return 1
	case ValueRequestBytes:
		return requestBytes
	case ValueResponseBytes:
		return responseBodyBytes
	case ValueDurationMS:
		return duration.Milliseconds()
	case ValueHeader:
		return headerValue(headers[mt.Header])
	}
	return 0
}

func (m *Metering) meterEvent(mt *Meter, tenant, routePrefix, requestID, method, path string, start time.Time, v int64) counter.Event {
	return counter.Event{
		Namespace: mt.Namespace,
		Counter:   mt.counterName(tenant, routePrefix),
		Time:      start,
		ID:        eventID(mt.Name, requestID, tenant, method, path, start),
		Delta:     v,
	}
}

// match reports whether a request passes the filters; status 0 (unknown,
// in Check) passes status filters, which only access_log meters have.
func (f *Filters) match(method, path string, status int) bool {
	if len(f.Methods) > 0 && !contains(f.Methods, method) {
		return false
	}
	if len(f.PathPrefixes) > 0 {
		ok := false
		for _, p := range f.PathPrefixes {
			if strings.HasPrefix(path, p) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.Statuses) > 0 && status != 0 {
		for _, r := range f.Statuses {
			if status >= r.Min && status <= r.Max {
				return true
			}
		}
		return false
	}
	return true
}

// AccessLogEntry is one HTTP access log entry from Envoy.
type AccessLogEntry struct {
	// Tenant is the x-tenant-id request header Check added; entries without
	// a configured tenant are not metered.
	Tenant string
	// Plan is the x-tollgate-plan request header Check added beside Tenant.
	Plan string
	// Method and Path are the request's; the query string is ignored.
	Method, Path string
	// Status is the response status code.
	Status int
	// RequestBytes and ResponseBodyBytes are the sizes Envoy logged.
	RequestBytes, ResponseBodyBytes int64
	// Duration is the time from the request's start to the response's end.
	Duration time.Duration
	// RequestID is x-request-id; Start is the request's start time. Both
	// make the events' idempotency tokens, so a replayed log counts once.
	// A zero Start means now, and so does one outside the accept window
	// around now (Options.AcceptWindow) of an event's namespace, for that
	// event.
	RequestID string
	Start     time.Time
	// Headers are request and response headers, keys lowercase, for
	// header:<name> meters.
	Headers map[string]string
	// NotServed says Envoy answered the request itself, before any
	// upstream took it (a filter after ext_authz rejected it, such as the
	// rate-limit filter, or no upstream could be reached). Such an entry
	// feeds no access_log meter, and when Check admitted the request (Tenant
	// and Plan name a plan of the tenant) its charges are refunded: one
	// event of -1 for each authz meter that counts requests and for each
	// quota of the plan.
	NotServed bool
}

// RecordAccessLog records the access_log meters' events of entries in the
// spool, durably, before it returns, and the refunds of entries that were
// not served (see AccessLogEntry.NotServed). Entries of unknown tenants are
// skipped; tollgate_metering_access_log_entries_total counts the entries of
// each call once its events are in the spool.
func (m *Metering) RecordAccessLog(ctx context.Context, entries ...AccessLogEntry) error {
	var events []counter.Event
	refunds, unknown := 0, 0
	for i := range entries {
		e := &entries[i]
		if m.cfg.tenants[e.Tenant] == nil {
			unknown++
			continue
		}
		path := e.Path
		if j := strings.IndexByte(path, '?'); j >= 0 {
			path = path[:j]
		}
		now := m.opts.Now()
		prefix := m.rule(path).rule.PathPrefix
		if e.NotServed {
			n := len(events)
			events = m.refundEvents(events, e, prefix, path, now)
			refunds += len(events) - n
			continue
		}
		for j := range m.cfg.Meters {
			mt := &m.cfg.Meters[j]
			if mt.Source != SourceAccessLog || !mt.Filters.match(e.Method, path, e.Status) {
				continue
			}
			if v := mt.quantity(e.RequestBytes, e.ResponseBodyBytes, e.Duration, e.Headers); v > 0 {
				start := m.eventTime(e.Start, now, mt.Namespace, SourceAccessLog)
				events = append(events, m.meterEvent(mt, e.Tenant, prefix, e.RequestID, e.Method, path, start, v))
			}
		}
	}
	if err := m.spool.Append(ctx, events); err != nil {
		return err
	}
	// Counted once durable, so the count says what the spool holds.
	m.metrics.accessLogRecorded.Add(float64(len(entries) - unknown))
	m.metrics.accessLogUnknown.Add(float64(unknown))
	if refunds > 0 {
		now := m.opts.Now()
		for i := range events {
			if events[i].Delta < 0 {
				m.quotas.spooled(now, &events[i])
			}
		}
	}
	return nil
}

// refundSuffix ends the ids of refund events: "<meter>/<x-request-id>/refund".
const refundSuffix = "/refund"

// refundEvents appends the refunds of a request Check admitted but Envoy did
// not serve: -1 on each authz meter that counts requests (and whose filters
// the request passes, as in Check) and on each quota of the plan Check
// named. It appends nothing when Tenant and Plan do not name one of the
// tenant's plans, so an entry Check never admitted refunds nothing.
func (m *Metering) refundEvents(events []counter.Event, e *AccessLogEntry, prefix, path string, now time.Time) []counter.Event {
	tp := m.plans[tenantPlanKey{e.Tenant, e.Plan}]
	if tp == nil {
		return events
	}
	for i := range m.cfg.Meters {
		mt := &m.cfg.Meters[i]
		if mt.Source != SourceAuthz || mt.Value != ValueRequests || !mt.Filters.match(e.Method, path, 0) {
			continue
		}
		start := m.eventTime(e.Start, now, mt.Namespace, SourceAccessLog)
		ev := m.meterEvent(mt, e.Tenant, prefix, e.RequestID, e.Method, path, start, -1)
		ev.ID += refundSuffix
		events = append(events, ev)
	}
	for i := range tp.quotas {
		pq := &tp.quotas[i]
		start := m.eventTime(e.Start, now, pq.quota.Namespace, SourceAccessLog)
		events = append(events, counter.Event{
			Namespace: pq.quota.Namespace, Counter: pq.count.monthName(start), Time: start, Delta: -1,
			ID: eventID(pq.token, e.RequestID, e.Tenant, e.Method, path, start) + refundSuffix,
		})
	}
	return events
}
