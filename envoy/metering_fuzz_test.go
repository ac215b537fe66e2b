package envoy

import (
	"context"
	"math"
	"math/bits"
	"os"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/metering"
	"github.com/tollgate/tollgate/ratelimit"
)

// fuzzNow is the fixed clock of the fuzzed metering.
var fuzzNow = time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)

// discard is a metering Sink and CountReader with nothing stored.
type discard struct{}

func (discard) Ship(context.Context, []counter.Event) error { return nil }
func (discard) GetCount(context.Context, string, string) (int64, error) {
	return 0, nil
}

// newFuzzMetering opens the quick start's metering on an in-memory spool
// whose events are discarded when shipped.
func newFuzzMetering(tb testing.TB) *metering.Metering {
	tb.Helper()
	data, err := os.ReadFile("../metering/testdata/quickstart.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		tb.Fatal(err)
	}
	cfg, err := metering.ParseConfig("quickstart.yaml", root.Content[0].Content[1])
	if err != nil {
		tb.Fatal(err)
	}
	now := func() time.Time { return fuzzNow }
	rl, err := ratelimit.New(ratelimit.Options{Counter: memory.New(memory.Options{}), Now: now}, cfg.RateLimitConfig())
	if err != nil {
		tb.Fatal(err)
	}
	m, err := metering.Open(context.Background(), metering.Options{Config: cfg, DataDir: "/data", SpoolFS: vfs.NewMem(), Sink: discard{}, Counts: discard{}, RateLimiter: rl, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// mustMarshal returns the wire form of m, for seeds.
func mustMarshal(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzCheck decodes arbitrary bytes as an ext_authz CheckRequest and checks
// it against the quick start's metering: an answer always, never an error
// or a panic, with a status Envoy knows, and the tenant headers when
// allowed.
func FuzzCheck(f *testing.F) {
	req := func(key string, at time.Time) *authv3.CheckRequest {
		return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(at),
			Http: &authv3.AttributeContext_HttpRequest{Id: "r1", Method: "GET", Path: "/v1/things?x=1", Size: 10, Headers: map[string]string{"x-api-key": key}},
		}}}
	}
	f.Add(mustMarshal(f, req("acme-demo-key", fuzzNow)))
	f.Add(mustMarshal(f, req("guess", fuzzNow)))
	// testdata/fuzz/FuzzCheck holds a start in 2999 and the key in a raw
	// header map.
	s := NewAuthorizationServer(newFuzzMetering(f), nil)
	known := map[int32]bool{int32(codes.OK): true, int32(codes.Unauthenticated): true, int32(codes.ResourceExhausted): true, int32(codes.Unavailable): true}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in authv3.CheckRequest
		if proto.Unmarshal(data, &in) != nil {
			return
		}
		resp, err := s.Check(context.Background(), &in)
		if err != nil || resp == nil || !known[resp.GetStatus().GetCode()] {
			t.Fatalf("Check(%v) = %v, %v: want an answer with status OK, UNAUTHENTICATED, RESOURCE_EXHAUSTED or UNAVAILABLE", &in, resp, err)
		}
		if ok := resp.GetOkResponse(); (ok != nil) != (resp.GetStatus().GetCode() == int32(codes.OK)) ||
			(ok != nil && (len(ok.GetHeaders()) != 2 || ok.GetHeaders()[0].GetHeader().GetValue() != "acme")) {
			t.Fatalf("Check(%v) = %v: an OK answer carries exactly the tenant and plan headers", &in, resp)
		}
	})
}

// FuzzAccessLogEntry decodes arbitrary bytes as an Envoy HTTP access log
// entry: its translation has no negative size or duration, and metering
// records it without an error, whatever its times.
func FuzzAccessLogEntry(f *testing.F) {
	entry := func(at time.Time) *accesslogv3.HTTPAccessLogEntry {
		return &accesslogv3.HTTPAccessLogEntry{
			CommonProperties: &accesslogv3.AccessLogCommon{StartTime: timestamppb.New(at), TimeToLastDownstreamTxByte: durationpb.New(20 * time.Millisecond)},
			Request: &accesslogv3.HTTPRequestProperties{
				RequestMethod: corev3.RequestMethod_GET, Path: "/v1/things", RequestId: "r1", RequestHeadersBytes: 100, RequestBodyBytes: 20,
				RequestHeaders: map[string]string{metering.HeaderTenantID: "acme", metering.HeaderPlan: "demo"},
			},
			Response: &accesslogv3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(200), ResponseBodyBytes: 1000},
		}
	}
	f.Add(mustMarshal(f, entry(fuzzNow)))
	f.Add(mustMarshal(f, entry(time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC))))
	// testdata/fuzz/FuzzAccessLogEntry holds a start in 2999 and sizes over
	// int64 with a negative duration (they wrapped to 0 and -1).
	m := newFuzzMetering(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var in accesslogv3.HTTPAccessLogEntry
		if proto.Unmarshal(data, &in) != nil {
			return
		}
		e := accessLogEntry(&in)
		// Sizes are Envoy's, saturated at math.MaxInt64; durations not
		// below 0.
		sum, carry := bits.Add64(in.GetRequest().GetRequestHeadersBytes(), in.GetRequest().GetRequestBodyBytes(), 0)
		if carry != 0 || sum > math.MaxInt64 {
			sum = math.MaxInt64
		}
		if e.RequestBytes != int64(sum) || e.ResponseBodyBytes != int64(min(in.GetResponse().GetResponseBodyBytes(), math.MaxInt64)) || e.Duration < 0 {
			t.Fatalf("accessLogEntry(%v): request bytes %d, response body bytes %d, duration %v: want Envoy's sizes saturated at 2^63-1 and no negative duration", &in, e.RequestBytes, e.ResponseBodyBytes, e.Duration)
		}
		if err := m.RecordAccessLog(context.Background(), e); err != nil {
			t.Fatalf("RecordAccessLog(%+v): %v", e, err)
		}
		if err := m.Spool().Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
