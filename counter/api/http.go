package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/internal/httperr"
	"github.com/tollgate/tollgate/internal/tracing"
)

// maxBody bounds one HTTP request body (a batch of adds fits).
const maxBody = 8 << 20

// jsonToken is Netflix's idempotency token in JSON.
type jsonToken struct {
	Token          string `json:"token"`
	GenerationTime string `json:"generation_time"`
}

// jsonRequest is the body of every counter call.
type jsonRequest struct {
	Namespace        string     `json:"namespace"`
	CounterName      string     `json:"counter_name"`
	Delta            *int64     `json:"delta"`
	IdempotencyToken *jsonToken `json:"idempotency_token"`
}

type jsonBatch struct {
	Requests []jsonRequest `json:"requests"`
}

type countBody struct {
	Count int64 `json:"count"`
}

// errBadRequest marks request bodies the caller must fix.
var errBadRequest = errors.New("bad request")

// errTooLarge marks a body over maxBody (HTTP 413).
var errTooLarge = errors.New("body too large")

// ops are the operations, each served at POST /v1/counter/<op>.
var ops = map[string]bool{"add": true, "addAndGet": true, "get": true, "clear": true, "batchAdd": true}

func (r *jsonRequest) token(field string) (global.IdempotencyToken, error) {
	if r.IdempotencyToken == nil {
		return global.IdempotencyToken{}, nil
	}
	tok := global.IdempotencyToken{Token: r.IdempotencyToken.Token}
	if r.IdempotencyToken.GenerationTime != "" {
		t, err := time.Parse(time.RFC3339Nano, r.IdempotencyToken.GenerationTime)
		if err != nil {
			return tok, fmt.Errorf("%w: %s.generation_time %q is not RFC 3339 (e.g. \"2026-11-27T15:04:05.123Z\")", errBadRequest, field, r.IdempotencyToken.GenerationTime)
		}
		tok.GenerationTime = t
	}
	return tok, nil
}

func (r *jsonRequest) delta(field string) (int64, error) {
	if r.Delta == nil {
		return 0, fmt.Errorf("%w: %s.delta is missing (a whole number, may be negative)", errBadRequest, field)
	}
	return *r.Delta, nil
}

// add returns the add r asks for; deltaField and tokenField name its delta
// and token in errors.
func (r *jsonRequest) add(deltaField, tokenField string) (global.AddRequest, error) {
	d, err := r.delta(deltaField)
	if err != nil {
		return global.AddRequest{}, err
	}
	tok, err := r.token(tokenField)
	if err != nil {
		return global.AddRequest{}, err
	}
	return global.AddRequest{Namespace: r.Namespace, Counter: r.CounterName, Delta: d, Token: tok}, nil
}

// Handler returns the HTTP JSON API, to be mounted at "/v1/counter/".
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/counter/add", s.serve(func(r *http.Request, req *jsonRequest) (any, error) {
		if err := s.check(r.Context(), apiauth.CounterWrite, req.Namespace, req.CounterName); err != nil {
			return nil, err
		}
		a, err := req.add("request", "idempotency_token")
		if err != nil {
			return nil, err
		}
		return struct{}{}, s.c.AddCount(r.Context(), a.Namespace, a.Counter, a.Delta, a.Token)
	}))
	mux.HandleFunc("POST /v1/counter/addAndGet", s.serve(func(r *http.Request, req *jsonRequest) (any, error) {
		if err := s.check(r.Context(), apiauth.CounterWrite, req.Namespace, req.CounterName); err != nil {
			return nil, err
		}
		a, err := req.add("request", "idempotency_token")
		if err != nil {
			return nil, err
		}
		n, err := s.c.AddAndGetCount(r.Context(), a.Namespace, a.Counter, a.Delta, a.Token)
		return countBody{n}, err
	}))
	mux.HandleFunc("POST /v1/counter/get", s.serve(func(r *http.Request, req *jsonRequest) (any, error) {
		if err := s.check(r.Context(), apiauth.CounterRead, req.Namespace, req.CounterName); err != nil {
			return nil, err
		}
		n, err := s.c.GetCount(r.Context(), req.Namespace, req.CounterName)
		return countBody{n}, err
	}))
	mux.HandleFunc("POST /v1/counter/clear", s.serve(func(r *http.Request, req *jsonRequest) (any, error) {
		if err := s.check(r.Context(), apiauth.CounterClear, req.Namespace, req.CounterName); err != nil {
			return nil, err
		}
		tok, err := req.token("idempotency_token")
		if err != nil {
			return nil, err
		}
		return countBody{0}, s.c.ClearCount(r.Context(), req.Namespace, req.CounterName, tok)
	}))
	mux.HandleFunc("POST /v1/counter/batchAdd", s.batchAdd)
	mux.HandleFunc("/v1/counter/", func(w http.ResponseWriter, r *http.Request) {
		if ops[strings.TrimPrefix(r.URL.Path, "/v1/counter/")] {
			w.Header().Set("Allow", http.MethodPost)
			httperr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s %s is not served; use POST with a JSON body", r.Method, r.URL.Path))
			return
		}
		httperr.Write(w, http.StatusNotFound, "not_found",
			fmt.Sprintf("no counter operation %s %s; use POST /v1/counter/add, addAndGet, get, clear or batchAdd", r.Method, r.URL.Path))
	})
	if !s.tracing {
		return mux
	}
	// The calls' spans are children of the trace context of the headers.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(tracing.Extract(r.Context(), propagation.HeaderCarrier(r.Header))))
	})
}

// decode reads a JSON body strictly: unknown fields and trailing data are errors.
func decode(r *http.Request, w http.ResponseWriter, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return fmt.Errorf("%w: the body is over the limit of %d bytes (split a batch into smaller ones)", errTooLarge, maxBody)
	}
	if err != nil {
		return fmt.Errorf("%w: cannot read the body: %v", errBadRequest, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: malformed JSON body: %v", errBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: malformed JSON body: data after the object", errBadRequest)
	}
	return nil
}

func (s *Server) serve(op func(*http.Request, *jsonRequest) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req jsonRequest
		if err := decode(r, w, &req); err != nil {
			writeErr(w, err)
			return
		}
		out, err := op(r, &req)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) batchAdd(w http.ResponseWriter, r *http.Request) {
	var b jsonBatch
	if err := decode(r, w, &b); err != nil {
		writeErr(w, err)
		return
	}
	if len(b.Requests) > maxBatch {
		writeErr(w, fmt.Errorf("%w: batch of %d adds is over the limit of %d; split it", errBadRequest, len(b.Requests), maxBatch))
		return
	}
	reqs := make([]global.AddRequest, len(b.Requests))
	for i := range b.Requests {
		field := fmt.Sprintf("requests[%d]", i)
		if err := s.check(r.Context(), apiauth.CounterWrite, b.Requests[i].Namespace, b.Requests[i].CounterName); err != nil {
			writeErr(w, fmt.Errorf("%s: %w", field, err))
			return
		}
		a, err := b.Requests[i].add(field, field+".idempotency_token")
		if err != nil {
			writeErr(w, err)
			return
		}
		reqs[i] = a
	}
	if err := s.c.BatchAdd(r.Context(), reqs); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func writeErr(w http.ResponseWriter, err error) {
	if errors.Is(err, errTooLarge) {
		httperr.Write(w, http.StatusRequestEntityTooLarge, "body_too_large", err.Error())
		return
	}
	if errors.Is(err, errBadRequest) {
		httperr.Write(w, http.StatusBadRequest, "invalid_argument", err.Error())
		return
	}
	c := classify(err)
	httperr.Write(w, c.http, c.name, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
