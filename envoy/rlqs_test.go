package envoy

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	rlqsv3 "github.com/envoyproxy/go-control-plane/envoy/service/rate_limit_quota/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tollgate/tollgate/counter/memory"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/rlqs"
)

// rlqsClient serves RLQS in process on rules and returns an open stream.
func rlqsClient(t *testing.T, rules string) (rlqsv3.RateLimitQuotaService_StreamRateLimitQuotasClient, *rlqs.Server) {
	t.Helper()
	return rlqsTracedClient(t, rules, nil)
}

// rlqsTracedClient is rlqsClient with the server's spans made by tp.
func rlqsTracedClient(t *testing.T, rules string, tp trace.TracerProvider) (rlqsv3.RateLimitQuotaService_StreamRateLimitQuotasClient, *rlqs.Server) {
	t.Helper()
	cfg, err := ratelimit.ParseConfig("rules.yaml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rlqs.New(rlqs.Options{Config: func() *ratelimit.Config { return cfg }, Counter: memory.New(memory.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	rlqsv3.RegisterRateLimitQuotaServiceServer(g, NewRateLimitQuotaServer(srv, tp))
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	stream, err := rlqsv3.NewRateLimitQuotaServiceClient(conn).StreamRateLimitQuotas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return stream, srv
}

const rlqsTestRules = `domain: d
descriptors:
  - key: tenant
    value: acme
    rate_limit: {unit: second, requests_per_unit: 100}
  - key: tenant
    value: spent
    rate_limit: {unit: day, requests_per_unit: 0}
`

func usage(bucket map[string]string, allowed, denied uint64) *rlqsv3.RateLimitQuotaUsageReports_BucketQuotaUsage {
	return &rlqsv3.RateLimitQuotaUsageReports_BucketQuotaUsage{
		BucketId: &rlqsv3.BucketId{Bucket: bucket}, NumRequestsAllowed: allowed, NumRequestsDenied: denied,
		TimeElapsed: durationpb.New(0),
	}
}

func assignment(bucket map[string]string, strategy *typev3.RateLimitStrategy) *rlqsv3.RateLimitQuotaResponse_BucketAction {
	return &rlqsv3.RateLimitQuotaResponse_BucketAction{
		BucketId: &rlqsv3.BucketId{Bucket: bucket},
		BucketAction: &rlqsv3.RateLimitQuotaResponse_BucketAction_QuotaAssignmentAction_{
			QuotaAssignmentAction: &rlqsv3.RateLimitQuotaResponse_BucketAction_QuotaAssignmentAction{
				AssignmentTimeToLive: durationpb.New(15 * time.Second),
				RateLimitStrategy:    strategy,
			},
		},
	}
}

// TestRLQSStreamProto: a report in, each bucket's assignment out, as protos.
func TestRLQSStreamProto(t *testing.T) {
	stream, _ := rlqsClient(t, rlqsTestRules)
	acme, spent, other := map[string]string{"tenant": "acme"}, map[string]string{"tenant": "spent"}, map[string]string{"tenant": "x"}
	err := stream.Send(&rlqsv3.RateLimitQuotaUsageReports{Domain: "d", BucketQuotaUsages: []*rlqsv3.RateLimitQuotaUsageReports_BucketQuotaUsage{
		usage(acme, 1, 0), usage(spent, 1, 0), usage(other, 1, 0),
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	want := &rlqsv3.RateLimitQuotaResponse{BucketAction: []*rlqsv3.RateLimitQuotaResponse_BucketAction{
		assignment(acme, &typev3.RateLimitStrategy{Strategy: &typev3.RateLimitStrategy_TokenBucket{TokenBucket: &typev3.TokenBucket{
			MaxTokens: 100, TokensPerFill: wrapperspb.UInt32(100), FillInterval: durationpb.New(time.Second),
		}}}),
		assignment(spent, &typev3.RateLimitStrategy{Strategy: &typev3.RateLimitStrategy_BlanketRule_{BlanketRule: typev3.RateLimitStrategy_DENY_ALL}}),
		assignment(other, &typev3.RateLimitStrategy{Strategy: &typev3.RateLimitStrategy_BlanketRule_{BlanketRule: typev3.RateLimitStrategy_ALLOW_ALL}}),
	}}
	if !proto.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// TestRLQSStreamRejects: bad bucket ids and a changed domain end the stream
// with INVALID_ARGUMENT and a message saying what was wrong.
func TestRLQSStreamRejects(t *testing.T) {
	long := strings.Repeat("k", 257)
	many := map[string]string{}
	for i := range 17 {
		many[string(rune('a'+i))] = "v"
	}
	for _, c := range []struct {
		name    string
		reports []*rlqsv3.RateLimitQuotaUsageReports
		want    string
	}{
		{"empty bucket", []*rlqsv3.RateLimitQuotaUsageReports{{Domain: "d", BucketQuotaUsages: []*rlqsv3.RateLimitQuotaUsageReports_BucketQuotaUsage{usage(nil, 1, 0)}}},
			"bucket_quota_usages[0].bucket_id: empty bucket id (hint: give the filter's bucket_id_builder at least one entry)"},
		{"long key", []*rlqsv3.RateLimitQuotaUsageReports{{Domain: "d", BucketQuotaUsages: []*rlqsv3.RateLimitQuotaUsageReports_BucketQuotaUsage{usage(map[string]string{long: "v"}, 1, 0)}}},
			`bucket_quota_usages[0].bucket_id: an entry (key "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"…) is over 256 bytes`},
		{"many entries", []*rlqsv3.RateLimitQuotaUsageReports{{Domain: "d", BucketQuotaUsages: []*rlqsv3.RateLimitQuotaUsageReports_BucketQuotaUsage{usage(many, 1, 0)}}},
			"bucket_quota_usages[0].bucket_id: 17 entries, at most 16"},
		{"domain changed", []*rlqsv3.RateLimitQuotaUsageReports{
			{Domain: "d", BucketQuotaUsages: []*rlqsv3.RateLimitQuotaUsageReports_BucketQuotaUsage{usage(map[string]string{"tenant": "acme"}, 1, 0)}},
			{Domain: "e"},
		}, rlqs.ErrDomainChanged.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			stream, _ := rlqsClient(t, rlqsTestRules)
			for _, r := range c.reports {
				if err := stream.Send(r); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			for err == nil {
				_, err = stream.Recv()
			}
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != c.want {
				t.Fatalf("got %v %q, want InvalidArgument %q", st.Code(), st.Message(), c.want)
			}
		})
	}
}

// TestRLQSStreamEndsOnClose: closing the rlqs.Server ends open streams.
func TestRLQSStreamEndsOnClose(t *testing.T) {
	stream, srv := rlqsClient(t, rlqsTestRules)
	if err := stream.Send(&rlqsv3.RateLimitQuotaUsageReports{Domain: "d", BucketQuotaUsages: []*rlqsv3.RateLimitQuotaUsageReports_BucketQuotaUsage{
		usage(map[string]string{"tenant": "acme"}, 1, 0)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	_, err := stream.Recv()
	if st := status.Convert(err); st.Code() != codes.Unavailable {
		t.Fatalf("after Close: %v, want Unavailable", err)
	}
}
