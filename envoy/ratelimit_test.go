package envoy

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/internal/httperr"
	"github.com/tollgate/tollgate/ratelimit"
)

// newTestServer serves examples/bench/ratelimit.yaml on a fresh memory store
// at a fixed time, 20s into its minute and 800s into its hour.
func newTestServer(tb testing.TB) *RateLimitServer {
	tb.Helper()
	cfg, err := ratelimit.LoadConfig("../examples/bench/ratelimit.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	svc, err := ratelimit.New(ratelimit.Options{Counter: memory.New(memory.Options{}), Now: func() time.Time { return now }}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return NewRateLimitServer(svc, HeaderOptions{}, nil)
}

func TestShouldRateLimitProto(t *testing.T) {
	status := func(code rlsv3.RateLimitResponse_Code, rpu uint32, unit rlsv3.RateLimitResponse_RateLimit_Unit, remaining uint32, reset time.Duration) *rlsv3.RateLimitResponse_DescriptorStatus {
		return &rlsv3.RateLimitResponse_DescriptorStatus{
			Code:               code,
			CurrentLimit:       &rlsv3.RateLimitResponse_RateLimit{RequestsPerUnit: rpu, Unit: unit},
			LimitRemaining:     remaining,
			DurationUntilReset: durationpb.New(reset),
		}
	}
	f := func(name string, entries [][2]string, calls int, want *rlsv3.RateLimitResponse) {
		t.Helper()
		s := newTestServer(t)
		var got *rlsv3.RateLimitResponse
		for range calls {
			var err error
			if got, err = s.ShouldRateLimit(context.Background(), benchRequest(entries)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if !proto.Equal(got, want) {
			t.Fatalf("%s: got %v\nwant %v", name, got, want)
		}
	}
	ok, over := rlsv3.RateLimitResponse_OK, rlsv3.RateLimitResponse_OVER_LIMIT
	f("one_descriptor", [][2]string{{"hot", "k"}}, 1, &rlsv3.RateLimitResponse{OverallCode: ok, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{
		status(ok, 100000000, rlsv3.RateLimitResponse_RateLimit_SECOND, 99999999, time.Second),
	}})
	f("three_descriptors", [][2]string{{"a", "1"}, {"b", "2"}, {"c", "3"}}, 2, &rlsv3.RateLimitResponse{OverallCode: ok, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{
		status(ok, 100000000, rlsv3.RateLimitResponse_RateLimit_SECOND, 99999998, time.Second),
		status(ok, 100000000, rlsv3.RateLimitResponse_RateLimit_MINUTE, 99999998, 40*time.Second),
		status(ok, 100000000, rlsv3.RateLimitResponse_RateLimit_HOUR, 99999998, 2800*time.Second),
	}})
	f("over_limit", [][2]string{{"over", "x"}}, 2, &rlsv3.RateLimitResponse{OverallCode: over, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{
		status(over, 1, rlsv3.RateLimitResponse_RateLimit_HOUR, 0, 2800*time.Second),
	}})
	f("no_rule", [][2]string{{"nope", "x"}}, 1, &rlsv3.RateLimitResponse{OverallCode: ok, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{{Code: ok}}})
}

// TestShouldRateLimitAllocs locks in the adapter's allocations: the
// response, its status pointers and one array of statuses, whatever the
// number of descriptors, plus the decision's one key string.
func TestShouldRateLimitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	s := newTestServer(t)
	for _, entries := range [][][2]string{{{"hot", "k"}}, {{"a", "1"}, {"b", "2"}, {"c", "3"}}} {
		req := benchRequest(entries)
		got := testing.AllocsPerRun(100, func() {
			if _, err := s.ShouldRateLimit(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		})
		if got != 4 {
			t.Errorf("%d descriptors: %v allocations per call, want 4", len(entries), got)
		}
	}
}

// TestRequestBounds checks that both transports refuse a descriptor value
// over ratelimit.MaxValueLen before deciding, with the same message.
func TestRequestBounds(t *testing.T) {
	const msg = `ratelimit: invalid request: descriptor 1 entry 0 (key "b"): value is 257 bytes, over the limit of 256 (rate-limit on a shorter value, such as a hash or a prefix of it)`
	s := newTestServer(t)
	req := benchRequest([][2]string{{"a", "1"}, {"b", strings.Repeat("v", ratelimit.MaxValueLen+1)}})
	_, err := s.ShouldRateLimit(context.Background(), req)
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || st.Message() != msg {
		t.Errorf("gRPC: error %v, want InvalidArgument %q", err, msg)
	}

	body, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.JSONHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/json", bytes.NewReader(body)))
	if want := string(httperr.Body("InvalidArgument", msg)) + "\n"; rec.Code != http.StatusBadRequest || rec.Body.String() != want {
		t.Errorf("/json: %d %s, want 400 %s", rec.Code, rec.Body, want)
	}
}

// TestRateLimitHeaders checks the RateLimit-* headers of the RLS path: the
// tightest descriptor (ratelimit.Tightest), its limit as
// ratelimit.FormatLimit writes it for ext_authz Check too.
func TestRateLimitHeaders(t *testing.T) {
	f := func(name string, entries [][2]string, calls int, want map[string]string) {
		t.Helper()
		s := newTestServer(t)
		s.headers = HeaderOptions{Enabled: true}
		s.headers.EnsureDefaults()
		var got *rlsv3.RateLimitResponse
		for range calls {
			var err error
			if got, err = s.ShouldRateLimit(context.Background(), benchRequest(entries)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		gotHeaders := map[string]string{}
		for _, h := range got.GetResponseHeadersToAdd() {
			gotHeaders[h.GetKey()] = h.GetValue()
		}
		if len(got.GetResponseHeadersToAdd()) != len(want) || !maps.Equal(gotHeaders, want) {
			t.Errorf("%s: headers %v, want %v", name, got.GetResponseHeadersToAdd(), want)
		}
	}
	f("one limit", [][2]string{{"user", "u1"}}, 1, map[string]string{
		"RateLimit-Limit": "1000, 1000;w=60", "RateLimit-Remaining": "999", "RateLimit-Reset": "40"})
	// a, b and c tie on remaining: the longest reset (c, hourly) wins.
	f("tie on remaining", [][2]string{{"a", "1"}, {"b", "2"}, {"c", "3"}}, 1, map[string]string{
		"RateLimit-Limit": "100000000, 100000000;w=3600", "RateLimit-Remaining": "99999999", "RateLimit-Reset": "2800"})
	f("over limit beats fewer remaining", [][2]string{{"user", "u2"}, {"over", "x"}}, 2, map[string]string{
		"RateLimit-Limit": "1, 1;w=3600", "RateLimit-Remaining": "0", "RateLimit-Reset": "2800"})
	f("no limit", [][2]string{{"nope", "x"}}, 1, map[string]string{})
}
