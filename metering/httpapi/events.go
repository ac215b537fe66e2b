package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/tollgate/tollgate/internal/httperr"
	"github.com/tollgate/tollgate/metering"
)

// Bounds of one POST /v1/events.
const (
	// MaxEventsBody is the largest body, in bytes.
	MaxEventsBody = 4 << 20
	// MaxEventsBatch is the most events in one batch.
	MaxEventsBatch = 1000
)

// EventRecorder records CloudEvents; *metering.Metering implements it.
type EventRecorder interface {
	RecordEvents(ctx context.Context, events []metering.IngestEvent) ([]metering.EventError, error)
}

// eventsAnswer is the answer to POST /v1/events: how many events were
// accepted and, by index, why the others were refused.
type eventsAnswer struct {
	Error    *eventsError          `json:"error,omitempty"`
	Accepted int                   `json:"accepted"`
	Errors   []metering.EventError `json:"errors,omitempty"`
}

type eventsError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// EventsHandler serves POST /v1/events: CloudEvents 1.0 in JSON, one event
// (structured mode: application/cloudevents+json, or application/json with
// an object) or a batch (application/cloudevents-batch+json, or
// application/json with an array). Accepted events are in the spool, durable,
// before the answer: 200 with {"accepted":n} when all were accepted, 400
// with the refused ones by index (the others are accepted; resending the
// whole batch is safe, as an event's id, source and time make it count
// once). A malformed body accepts nothing: 400; a body over MaxEventsBody
// bytes or MaxEventsBatch events: 413.
func EventsHandler(rec EventRecorder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			httperr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed (hint: use POST)")
			return
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch mt {
		case "application/cloudevents+json", "application/cloudevents-batch+json", "application/json":
		default:
			httperr.Write(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
				fmt.Sprintf("content type %q is not CloudEvents JSON (hint: application/cloudevents+json for one event, application/cloudevents-batch+json for a batch)", mt))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventsBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				httperr.Write(w, http.StatusRequestEntityTooLarge, "body_too_large",
					fmt.Sprintf("the body is over %d bytes (hint: send smaller batches)", MaxEventsBody))
				return
			}
			httperr.Write(w, http.StatusBadRequest, "invalid_body", "cannot read the body: "+err.Error())
			return
		}
		raws, err := splitEvents(mt, body)
		if err != nil {
			httperr.Write(w, http.StatusBadRequest, "invalid_json", err.Error())
			return
		}
		if len(raws) > MaxEventsBatch {
			httperr.Write(w, http.StatusRequestEntityTooLarge, "batch_too_large",
				fmt.Sprintf("%d events in one batch, at most %d (hint: send smaller batches)", len(raws), MaxEventsBatch))
			return
		}
		events := make([]metering.IngestEvent, 0, len(raws))
		index := make([]int, 0, len(raws)) // events[i] is raws[index[i]]
		var refused []metering.EventError
		for i, raw := range raws {
			var e event.Event
			// raw is valid JSON already (checked with the body): decode it
			// without json.Unmarshal's second validity scan.
			err := e.UnmarshalJSON(raw)
			if err == nil {
				err = e.Validate()
			}
			if err != nil {
				refused = append(refused, metering.EventError{Index: i, ID: e.ID(), Code: "invalid_event",
					Message: "not a CloudEvents 1.0 event: " + strings.TrimSpace(err.Error())})
				continue
			}
			events = append(events, metering.IngestEvent{ID: e.ID(), Source: e.Source(), Type: e.Type(), Subject: e.Subject(),
				Time: e.Time(), Data: e.Data()})
			index = append(index, i)
		}
		bad, err := rec.RecordEvents(r.Context(), events)
		if err != nil {
			httperr.Write(w, http.StatusServiceUnavailable, "unavailable", "cannot spool the events: "+err.Error()+" (hint: retry the batch)")
			return
		}
		for _, b := range bad {
			b.Index = index[b.Index]
			refused = append(refused, b)
		}
		slices.SortFunc(refused, func(a, b metering.EventError) int { return a.Index - b.Index })
		ans := eventsAnswer{Accepted: len(raws) - len(refused), Errors: refused}
		status := http.StatusOK
		if len(refused) > 0 {
			status = http.StatusBadRequest
			ans.Error = &eventsError{Code: "invalid_events",
				Message: fmt.Sprintf("%d of %d events refused, listed in errors by index; the others are accepted (hint: fix and resend them; resending accepted ones counts them once)", len(refused), len(raws))}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(&ans)
	})
}

// splitEvents returns the raw events of a structured or batch body.
func splitEvents(mediaType string, body []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	batch := mediaType == "application/cloudevents-batch+json" || (mediaType == "application/json" && len(trimmed) > 0 && trimmed[0] == '[')
	if !batch {
		if !json.Valid(body) {
			return nil, errors.New("the body is not valid JSON (hint: one CloudEvent as a JSON object)")
		}
		return []json.RawMessage{body}, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, fmt.Errorf("the body is not a JSON array of events: %v (hint: a batch is [event, ...])", err)
	}
	return raws, nil
}
