package metering

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/ratelimit/rlqs"
)

// IngestEvent is one CloudEvent for the events meters, as the HTTP adapter
// decoded it.
type IngestEvent struct {
	// ID and Source identify the event: a resent event (same ID, Source and
	// Time) counts once.
	ID, Source string
	// Type selects the meters (Meter.EventType).
	Type string
	// Subject is the tenant.
	Subject string
	// Time is when the event happened; required.
	Time time.Time
	// Data is the event's JSON data, for meters with a ValuePath.
	Data []byte
}

// EventError says why one event of a batch was refused; Index is its place
// in the batch.
type EventError struct {
	Index   int    `json:"index"`
	ID      string `json:"id,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Default accept window of events whose namespace has none
// (Options.AcceptWindow): the counters' default accept_limit and
// future_limit.
const (
	defaultAcceptPast   = 5 * time.Second
	defaultAcceptFuture = time.Second
)

// acceptWindow returns how far in the past and the future an event of
// namespace may be.
func (m *Metering) acceptWindow(namespace string) (past, future time.Duration) {
	if m.opts.AcceptWindow != nil {
		return m.opts.AcceptWindow(namespace)
	}
	return defaultAcceptPast, defaultAcceptFuture
}

// RecordEvents writes the events meters' counter events of every valid
// event to the spool, durably and in one append, before it returns; the
// invalid ones write nothing and come back as EventErrors, by index. The
// error is the spool's: nothing was written then.
func (m *Metering) RecordEvents(ctx context.Context, events []IngestEvent) ([]EventError, error) {
	now := m.opts.Now()
	var out []counter.Event
	var bad []EventError
	for i := range events {
		e := &events[i]
		n := len(out)
		var err *EventError
		out, err = m.eventCounts(out, e, now)
		if err != nil {
			err.Index, err.ID = i, e.ID
			bad = append(bad, *err)
			out = out[:n]
		}
	}
	if err := m.spool.Append(ctx, out); err != nil {
		return nil, err
	}
	m.metrics.ingested.Add(float64(len(events) - len(bad)))
	m.metrics.ingestRefused.Add(float64(len(bad)))
	return bad, nil
}

// eventCounts appends the counter events of one CloudEvent, or says why it
// is refused.
func (m *Metering) eventCounts(out []counter.Event, e *IngestEvent, now time.Time) ([]counter.Event, *EventError) {
	refuse := func(code, format string, args ...any) *EventError {
		return &EventError{Code: code, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case e.ID == "" || e.Source == "" || e.Type == "":
		return out, refuse("invalid_event", "id, source and type are required (hint: a CloudEvents 1.0 event)")
	case e.Subject == "":
		return out, refuse("missing_subject", "missing subject (hint: set subject to the tenant id)")
	case e.Time.IsZero():
		return out, refuse("missing_time", "missing time (hint: set the event's time: with id and source it makes a resent event count once)")
	}
	meters := m.eventMeters[e.Type]
	if len(meters) == 0 {
		return out, refuse("unknown_type", "no meter counts events of type %q (hint: one of %s)", e.Type, m.eventTypes())
	}
	if m.cfg.tenants[e.Subject] == nil {
		return out, refuse("unknown_tenant", "subject %q is not a configured tenant", e.Subject)
	}
	var data map[string]json.RawMessage
	sum := sha256.Sum256([]byte(e.Source + "\x00" + e.ID))
	token := "/ce/" + hex.EncodeToString(sum[:16])
	for _, mt := range meters {
		past, future := m.acceptWindow(mt.Namespace)
		if e.Time.Before(now.Add(-past)) {
			return out, refuse("time_out_of_range", "time %s is more than %v before now, the accept_limit of namespace %q (hint: send events sooner, or raise counters.namespaces.%s.accept_limit)",
				e.Time.Format(time.RFC3339Nano), past, mt.Namespace, mt.Namespace)
		}
		if e.Time.After(now.Add(future)) {
			return out, refuse("time_out_of_range", "time %s is more than %v after now, the future_limit of namespace %q (hint: check the sender's clock)",
				e.Time.Format(time.RFC3339Nano), future, mt.Namespace)
		}
		v := int64(1)
		if mt.Value == ValueEventData {
			if data == nil {
				if err := json.Unmarshal(e.Data, &data); err != nil || data == nil {
					return out, refuse("invalid_data", "data is not a JSON object (hint: meter %q reads $.%s from it)", mt.Name, strings.Join(mt.ValuePath, "."))
				}
			}
			var err error
			if v, err = dataValue(data, mt.ValuePath); err != nil {
				return out, refuse("invalid_data", "meter %q: %v", mt.Name, err)
			}
		}
		if v > 0 {
			out = append(out, counter.Event{Namespace: mt.Namespace, Counter: e.Subject, Time: e.Time, ID: mt.Name + token, Delta: v})
		}
	}
	return out, nil
}

// dataValue returns the whole number at path in data.
func dataValue(data map[string]json.RawMessage, path []string) (int64, error) {
	where := "$"
	for i, key := range path {
		where += "." + key
		raw, ok := data[key]
		if !ok {
			return 0, fmt.Errorf("data has no %s", where)
		}
		if i < len(path)-1 {
			data = nil
			if err := json.Unmarshal(raw, &data); err != nil || data == nil {
				return 0, fmt.Errorf("%s is not an object", where)
			}
			continue
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f < 0 || f != math.Trunc(f) || f > 1<<53 {
			return 0, fmt.Errorf("%s is %s, not a whole number from 0 to 2^53", where, raw)
		}
		return int64(f), nil
	}
	return 0, fmt.Errorf("empty path")
}

// eventTypes lists the configured event types, for hints.
func (m *Metering) eventTypes() string {
	types := make([]string, 0, len(m.eventMeters))
	for t := range m.eventMeters {
		types = append(types, strconv.Quote(t))
	}
	slices.Sort(types)
	if len(types) == 0 {
		return "none: no meter has source events"
	}
	return strings.Join(types, ", ")
}

// RecordRLQS writes the rlqs meters' events of what Envoys' RLQS reports
// allowed: one event per meter, bucket and report, to the tenant named by
// the bucket's BucketKey entry (buckets of unknown tenants count nothing),
// identified by the report's stream and number, durably in the spool. It
// fits rlqs.Options.OnUsage.
func (m *Metering) RecordRLQS(ctx context.Context, usage []rlqs.Allowed) error {
	var out []counter.Event
	for _, u := range usage {
		for _, mt := range m.rlqsMeters {
			if mt.Domain != "" && mt.Domain != u.Domain {
				continue
			}
			tenant := u.Bucket[mt.BucketKey]
			if m.cfg.tenants[tenant] == nil || u.Requests == 0 || u.Requests > math.MaxInt64 {
				continue
			}
			out = append(out, counter.Event{Namespace: mt.Namespace, Counter: tenant, Time: u.Time, Delta: int64(u.Requests),
				ID: mt.Name + "/rlqs/" + u.Stream + "/" + strconv.FormatUint(u.Seq, 10) + "/" + bucketHash(u.Bucket)})
		}
	}
	return m.spool.Append(ctx, out)
}

// bucketHash names a bucket id in an event id: a hash of its sorted
// entries.
func bucketHash(bucket map[string]string) string {
	keys := make([]string, 0, len(bucket))
	for k := range bucket {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(strconv.Itoa(len(k)) + ":" + k + strconv.Itoa(len(bucket[k])) + ":" + bucket[k]))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
