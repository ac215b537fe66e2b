package envoy

import (
	"context"
	"maps"
	"reflect"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tollgate/tollgate/metering"
)

// recordingAuthorizer records each CheckRequest (a copy: the server reuses
// its memory) and answers with result.
type recordingAuthorizer struct {
	result metering.CheckResult
	got    []metering.CheckRequest
}

func (a *recordingAuthorizer) Check(_ context.Context, req *metering.CheckRequest, res *metering.CheckResult) {
	r := *req
	r.Headers = maps.Clone(req.Headers)
	a.got = append(a.got, r)
	*res = a.result
}

func TestAuthorizationRequest(t *testing.T) {
	start := time.Date(2024, 5, 10, 12, 0, 30, 500, time.UTC)
	f := func(name string, in *authv3.AttributeContext_Request, want metering.CheckRequest) {
		t.Helper()
		a := &recordingAuthorizer{result: metering.CheckResult{Allowed: true, Status: 200}}
		s := NewAuthorizationServer(a, nil)
		// Twice on one server: the pooled exchange must not leak the first
		// call's headers into the second.
		for range 2 {
			if _, err := s.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: in}}); err != nil {
				t.Fatalf("%s: Check: %v", name, err)
			}
		}
		for i, got := range a.got {
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: call %d: CheckRequest\n%+v\nwant\n%+v", name, i, got, want)
			}
		}
	}
	f("header map", &authv3.AttributeContext_Request{
		Time: timestamppb.New(start),
		Http: &authv3.AttributeContext_HttpRequest{
			Id: "req-1", Method: "POST", Path: "/v1/things?q=1", Size: 123,
			Headers: map[string]string{"x-api-key": "k", "x-request-id": "other"},
		},
	}, metering.CheckRequest{
		Method: "POST", Path: "/v1/things?q=1", Headers: map[string]string{"x-api-key": "k", "x-request-id": "other"},
		RequestID: "req-1", Start: start, RequestBytes: 123,
	})
	f("raw header_map: repeated keys joined, raw values, id from x-request-id", &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/", Size: -1,
			HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
				{Key: "x-request-id", Value: "rid"},
				{Key: "accept", Value: "a"},
				{Key: "accept", RawValue: []byte("b")},
			}},
		},
	}, metering.CheckRequest{
		Method: "GET", Path: "/", Headers: map[string]string{"x-request-id": "rid", "accept": "a,b"},
		RequestID: "rid",
	})
	f("empty", &authv3.AttributeContext_Request{}, metering.CheckRequest{})
}

func TestAuthorizationResponse(t *testing.T) {
	set := func(k, v string) *corev3.HeaderValueOption {
		return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}
	}
	f := func(name string, res metering.CheckResult, want *authv3.CheckResponse) {
		t.Helper()
		s := NewAuthorizationServer(&recordingAuthorizer{result: res}, nil)
		got, err := s.Check(context.Background(), &authv3.CheckRequest{})
		if err != nil {
			t.Fatalf("%s: Check: %v", name, err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("%s: response\n%v\nwant\n%v", name, got, want)
		}
	}
	limit := []metering.Header{{Key: "RateLimit-Limit", Value: "100, 100;w=60"}, {Key: "RateLimit-Remaining", Value: "0"}}
	f("allowed", metering.CheckResult{
		Allowed: true, Status: 200, TenantID: "acme", Plan: "demo",
		UpstreamHeaders: []metering.Header{{Key: "x-tenant-id", Value: "acme"}, {Key: "x-tollgate-plan", Value: "demo"}},
		RemoveHeaders:   []string{"x-api-key"},
		ResponseHeaders: limit,
	}, &authv3.CheckResponse{
		Status: &status.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:              []*corev3.HeaderValueOption{set("x-tenant-id", "acme"), set("x-tollgate-plan", "demo")},
			HeadersToRemove:      []string{"x-api-key"},
			ResponseHeadersToAdd: []*corev3.HeaderValueOption{set("RateLimit-Limit", "100, 100;w=60"), set("RateLimit-Remaining", "0")},
		}},
	})
	f("allowed, nothing to add", metering.CheckResult{Allowed: true, Status: 200}, &authv3.CheckResponse{
		Status:       &status.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
	})
	denied := func(httpStatus int, code codes.Code, headers ...*corev3.HeaderValueOption) *authv3.CheckResponse {
		return &authv3.CheckResponse{
			Status: &status.Status{Code: int32(code)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode(httpStatus)},
				Body:    `{"error":{}}`,
				Headers: append([]*corev3.HeaderValueOption{set("content-type", "application/json")}, headers...),
			}},
		}
	}
	body := []byte(`{"error":{}}`)
	f("401", metering.CheckResult{Status: 401, Body: body}, denied(401, codes.Unauthenticated))
	f("403", metering.CheckResult{Status: 403, Body: body}, denied(403, codes.PermissionDenied))
	f("429 with headers", metering.CheckResult{Status: 429, Body: body, ResponseHeaders: limit},
		denied(429, codes.ResourceExhausted, set("RateLimit-Limit", "100, 100;w=60"), set("RateLimit-Remaining", "0")))
	f("503", metering.CheckResult{Status: 503, Body: body}, denied(503, codes.Unavailable))
	f("other status", metering.CheckResult{Status: 400, Body: body}, denied(400, codes.PermissionDenied))
}
