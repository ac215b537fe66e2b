// Command ghzdata writes the request bodies of `make bench` as ghz binary
// data: protobuf messages, each prefixed with its varint length, which ghz
// sends round robin (--binary-file). Precomputed bodies keep the load
// generator's CPU per call low and equal across scenarios: ghz's JSON
// templates cost it about 70 µs more per call on the bench box, and every
// microsecond ghz spends is taken from the sidecar on a 2-core box.
//
// Usage: go run ./scripts/ghzdata -scenario unique_keys -n 400000 -out FILE
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"

	rlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
)

func main() {
	scenario := flag.String("scenario", "", "hot_key | unique_keys | three_descr | over_limit | authz | noop")
	n := flag.Int("n", 1, "number of distinct messages (unique_keys and authz; the others have one)")
	out := flag.String("out", "", "output file")
	flag.Parse()
	if err := write(*scenario, *n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "ghzdata:", err)
		os.Exit(1)
	}
}

func write(scenario string, n int, path string) error {
	if path == "" {
		return fmt.Errorf("-out is required")
	}
	if n < 1 {
		return fmt.Errorf("-n must be at least 1, got %d", n)
	}
	gen, ok := scenarios[scenario]
	if !ok {
		return fmt.Errorf("unknown -scenario %q; want hot_key, unique_keys, three_descr, over_limit, authz or noop", scenario)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		if _, err := protodelim.MarshalTo(w, gen(i)); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// scenarios build message i of each scenario; those with one fixed body
// ignore i.
var scenarios = map[string]func(i int) proto.Message{
	"hot_key":     func(int) proto.Message { return rateLimitRequest("hot", "k") },
	"unique_keys": func(i int) proto.Message { return rateLimitRequest("user", "u"+strconv.Itoa(i)) },
	"three_descr": func(int) proto.Message { return rateLimitRequest("a", "1", "b", "2", "c", "3") },
	"over_limit":  func(int) proto.Message { return rateLimitRequest("over", "x") },
	"authz":       checkRequest,
	"noop":        func(int) proto.Message { return &healthpb.HealthCheckRequest{} },
}

// rateLimitRequest builds a request in domain "bench" with one single-entry
// descriptor per key/value pair.
func rateLimitRequest(pairs ...string) *rlsv3.RateLimitRequest {
	req := &rlsv3.RateLimitRequest{Domain: "bench"}
	for j := 0; j+1 < len(pairs); j += 2 {
		req.Descriptors = append(req.Descriptors, &rlv3.RateLimitDescriptor{
			Entries: []*rlv3.RateLimitDescriptor_Entry{{Key: pairs[j], Value: pairs[j+1]}},
		})
	}
	return req
}

// checkRequest is an ext_authz Check for tenant "bench" (examples/bench/
// sidecar.yaml) with a distinct x-request-id, so each one is its own
// metering event.
func checkRequest(i int) proto.Message {
	id := "bench-" + strconv.Itoa(i)
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id:     id,
			Method: "GET",
			Path:   "/v1/things",
			Headers: map[string]string{
				"x-api-key":    "bench-key",
				"x-request-id": id,
			},
		}},
	}}
}
