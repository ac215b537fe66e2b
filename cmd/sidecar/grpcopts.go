package main

import (
	"google.golang.org/grpc"

	"github.com/tollgate/tollgate/envoy"
)

// grpcStreamWorkers is how many goroutines serve calls. A call is handed to
// an idle worker, whose stack has already grown, instead of to a new
// goroutine that must grow its stack again; when all are busy (calls waiting
// on Redis) gRPC falls back to a new goroutine. It covers Envoy's usual
// concurrency per sidecar with room to spare.
const grpcStreamWorkers = 256

// grpcServerOptions returns the options of the sidecar's gRPC server:
// interceptor on every unary call, stream workers and the rate-limit codec.
func grpcServerOptions(interceptor grpc.UnaryServerInterceptor) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.UnaryInterceptor(interceptor),
		grpc.NumStreamWorkers(grpcStreamWorkers),
		grpc.ForceServerCodecV2(envoy.NewCodec(nil)),
	}
}
