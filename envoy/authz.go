package envoy

import (
	"context"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/tollgate/tollgate/internal/tracing"
	"github.com/tollgate/tollgate/metering"
)

// Authorizer decides ext_authz checks; *metering.Metering implements it.
type Authorizer interface {
	Check(ctx context.Context, req *metering.CheckRequest, res *metering.CheckResult)
}

// AuthorizationServer serves envoy.service.auth.v3.Authorization on top of an
// Authorizer. It is safe for concurrent use.
type AuthorizationServer struct {
	authv3.UnimplementedAuthorizationServer
	authz  Authorizer
	tracer trace.Tracer // nil: no spans
	pool   sync.Pool
}

// NewAuthorizationServer returns a server that decides with a. With tp
// not nil, each Check makes a span, a child of the span context in the
// checked request's headers (see the package doc); nil makes none.
func NewAuthorizationServer(a Authorizer, tp trace.TracerProvider) *AuthorizationServer {
	s := &AuthorizationServer{authz: a, tracer: tracing.Tracer(tp, tracerName)}
	s.pool.New = func() any { return new(authExchange) }
	return s
}

// authExchange holds the reusable request and result of one Check.
type authExchange struct {
	req     metering.CheckRequest
	res     metering.CheckResult
	headers map[string]string
}

// Check implements envoy.service.auth.v3.Authorization.
func (s *AuthorizationServer) Check(ctx context.Context, in *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	x := s.pool.Get().(*authExchange)
	defer func() {
		x.req = metering.CheckRequest{} // drop the reference to Envoy's header map
		s.pool.Put(x)
	}()
	attrs := in.GetAttributes().GetRequest()
	h := attrs.GetHttp()
	x.req = metering.CheckRequest{
		Method:       h.GetMethod(),
		Path:         h.GetPath(),
		Headers:      x.requestHeaders(h),
		RequestID:    h.GetId(),
		RequestBytes: max(h.GetSize(), 0),
	}
	if attrs.GetTime() != nil {
		x.req.Start = attrs.GetTime().AsTime()
	}
	if x.req.RequestID == "" {
		x.req.RequestID = x.req.Headers["x-request-id"]
	}
	var span trace.Span
	if s.tracer != nil {
		ctx, span = s.startCheckSpan(ctx, &x.req)
	}
	s.authz.Check(ctx, &x.req, &x.res)
	if span != nil {
		endCheckSpan(span, &x.res)
	}
	return checkResponse(&x.res), nil
}

// requestHeaders returns Envoy's header map (lowercase keys), or builds one
// from header_map when Envoy sends raw headers.
func (x *authExchange) requestHeaders(h *authv3.AttributeContext_HttpRequest) map[string]string {
	if len(h.GetHeaders()) > 0 || h.GetHeaderMap() == nil {
		return h.GetHeaders()
	}
	if x.headers == nil {
		x.headers = make(map[string]string)
	}
	clear(x.headers)
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		v := hv.GetValue()
		if v == "" {
			v = string(hv.GetRawValue())
		}
		if prev, ok := x.headers[hv.GetKey()]; ok {
			v = prev + "," + v
		}
		x.headers[hv.GetKey()] = v
	}
	return x.headers
}

// deniedCodes maps an HTTP denial status to the gRPC status Envoy expects.
var deniedCodes = map[int]codes.Code{401: codes.Unauthenticated, 403: codes.PermissionDenied, 429: codes.ResourceExhausted, 503: codes.Unavailable}

func checkResponse(r *metering.CheckResult) *authv3.CheckResponse {
	if r.Allowed {
		ok := &authv3.OkHttpResponse{HeadersToRemove: append([]string(nil), r.RemoveHeaders...)}
		for _, h := range r.UpstreamHeaders {
			ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: h.Key, Value: h.Value},
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			})
		}
		for _, h := range r.ResponseHeaders {
			ok.ResponseHeadersToAdd = append(ok.ResponseHeadersToAdd, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: h.Key, Value: h.Value},
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
			})
		}
		return &authv3.CheckResponse{
			Status:       &status.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
		}
	}
	code, ok := deniedCodes[r.Status]
	if !ok {
		code = codes.PermissionDenied
	}
	denied := &authv3.DeniedHttpResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode(r.Status)},
		Body:   string(r.Body),
		Headers: []*corev3.HeaderValueOption{{
			Header:       &corev3.HeaderValue{Key: "content-type", Value: "application/json"},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}},
	}
	for _, h := range r.ResponseHeaders {
		denied.Headers = append(denied.Headers, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: h.Key, Value: h.Value},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	return &authv3.CheckResponse{
		Status:       &status.Status{Code: int32(code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied},
	}
}
