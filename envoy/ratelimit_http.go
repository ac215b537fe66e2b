package envoy

import (
	"io"
	"net/http"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tollgate/tollgate/internal/httperr"
	"github.com/tollgate/tollgate/internal/tracing"
)

// maxJSONBody bounds the /json request body.
const maxJSONBody = 1 << 20

// JSONHandler serves POST /json: a RateLimitRequest in proto3 JSON in, the
// RateLimitResponse in proto3 JSON out, with status 200, or 429 when the
// overall code is OVER_LIMIT (as envoyproxy/ratelimit's /json endpoint).
func (s *RateLimitServer) JSONHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			httperr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST with a JSON RateLimitRequest body")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
		if err != nil {
			httperr.Write(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body over 1 MiB or unreadable: "+err.Error())
			return
		}
		var req rlsv3.RateLimitRequest
		if err := protojson.Unmarshal(body, &req); err != nil {
			httperr.Write(w, http.StatusBadRequest, "invalid_json", "cannot parse RateLimitRequest JSON: "+err.Error())
			return
		}
		ctx := r.Context()
		if s.tracer != nil {
			ctx = tracing.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		resp, err := s.ShouldRateLimit(ctx, &req)
		if err != nil {
			code := http.StatusInternalServerError
			if status.Code(err) == codes.InvalidArgument {
				code = http.StatusBadRequest
			}
			httperr.Write(w, code, status.Code(err).String(), status.Convert(err).Message())
			return
		}
		out, err := protojson.Marshal(resp)
		if err != nil {
			httperr.Write(w, http.StatusInternalServerError, "internal", "cannot encode response: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if resp.GetOverallCode() == rlsv3.RateLimitResponse_OVER_LIMIT {
			w.WriteHeader(http.StatusTooManyRequests)
		}
		_, _ = w.Write(out)
	})
}
