package envoy

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tollgate/tollgate/metering"
)

func TestAccessLogEntry(t *testing.T) {
	start := time.Date(2024, 5, 10, 12, 0, 30, 500, time.UTC)
	f := func(name string, in *accesslogv3.HTTPAccessLogEntry, want metering.AccessLogEntry) {
		t.Helper()
		if got := accessLogEntry(in); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: entry\n%+v\nwant\n%+v", name, got, want)
		}
	}
	f("every field", &accesslogv3.HTTPAccessLogEntry{
		CommonProperties: &accesslogv3.AccessLogCommon{StartTime: timestamppb.New(start), TimeToLastDownstreamTxByte: durationpb.New(12 * time.Millisecond)},
		Request: &accesslogv3.HTTPRequestProperties{
			RequestMethod: corev3.RequestMethod_PUT, Path: "/v1/things?q=1", RequestId: "rid",
			RequestHeadersBytes: 100, RequestBodyBytes: 23,
			RequestHeaders: map[string]string{"x-tenant-id": "acme", "x-both": "request"},
		},
		Response: &accesslogv3.HTTPResponseProperties{
			ResponseCode: wrapperspb.UInt32(201), ResponseBodyBytes: 4567,
			ResponseHeaders: map[string]string{"x-both": "response", "x-cost": "3"},
		},
	}, metering.AccessLogEntry{
		Tenant: "acme", Method: "PUT", Path: "/v1/things?q=1", Status: 201,
		RequestBytes: 123, ResponseBodyBytes: 4567, Duration: 12 * time.Millisecond,
		RequestID: "rid", Start: start,
		// A response header wins over a request header of the same name.
		Headers: map[string]string{"x-tenant-id": "acme", "x-both": "response", "x-cost": "3"},
	})
	f("empty", &accesslogv3.HTTPAccessLogEntry{}, metering.AccessLogEntry{Method: "METHOD_UNSPECIFIED"})
}

// recordingRecorder records each RecordAccessLog call's entries.
type recordingRecorder struct {
	calls [][]metering.AccessLogEntry
	err   error
}

func (r *recordingRecorder) RecordAccessLog(_ context.Context, entries ...metering.AccessLogEntry) error {
	r.calls = append(r.calls, append([]metering.AccessLogEntry(nil), entries...))
	return r.err
}

// fakeALSStream is a client stream of messages, then io.EOF.
type fakeALSStream struct {
	grpc.ServerStream
	msgs   []*alsv3.StreamAccessLogsMessage
	closed bool
}

func (s *fakeALSStream) Context() context.Context { return context.Background() }

func (s *fakeALSStream) Recv() (*alsv3.StreamAccessLogsMessage, error) {
	if len(s.msgs) == 0 {
		return nil, io.EOF
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return m, nil
}

func (s *fakeALSStream) SendAndClose(*alsv3.StreamAccessLogsResponse) error {
	s.closed = true
	return nil
}

func TestStreamAccessLogs(t *testing.T) {
	httpLogs := func(paths ...string) *alsv3.StreamAccessLogsMessage {
		var entries []*accesslogv3.HTTPAccessLogEntry
		for _, p := range paths {
			entries = append(entries, &accesslogv3.HTTPAccessLogEntry{Request: &accesslogv3.HTTPRequestProperties{RequestMethod: corev3.RequestMethod_GET, Path: p}})
		}
		return &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: entries}}}
	}
	tcpLogs := &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_TcpLogs{TcpLogs: &alsv3.StreamAccessLogsMessage_TCPAccessLogEntries{
		LogEntry: []*accesslogv3.TCPAccessLogEntry{{}},
	}}}
	entry := func(path string) metering.AccessLogEntry { return metering.AccessLogEntry{Method: "GET", Path: path} }

	rec := &recordingRecorder{}
	stream := &fakeALSStream{msgs: []*alsv3.StreamAccessLogsMessage{httpLogs("/a", "/b"), tcpLogs, httpLogs(), httpLogs("/c")}}
	if err := NewAccessLogServer(rec, nil).StreamAccessLogs(stream); err != nil {
		t.Fatalf("StreamAccessLogs = %v", err)
	}
	// TCP entries and empty messages record nothing.
	if want := [][]metering.AccessLogEntry{{entry("/a"), entry("/b")}, {entry("/c")}}; !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("recorded %+v, want %+v", rec.calls, want)
	}
	if !stream.closed {
		t.Error("the stream was not closed with a response at EOF")
	}

	rec = &recordingRecorder{err: errors.New("spool full")}
	stream = &fakeALSStream{msgs: []*alsv3.StreamAccessLogsMessage{httpLogs("/a"), httpLogs("/b")}}
	err := NewAccessLogServer(rec, nil).StreamAccessLogs(stream)
	if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "cannot record access log entries: spool full" {
		t.Errorf("StreamAccessLogs with a failing recorder = %v, want Unavailable: cannot record access log entries: spool full", err)
	}
	if len(rec.calls) != 1 || stream.closed {
		t.Errorf("after a failed record: %d calls, closed %v; want 1 call and the stream left for gRPC to end", len(rec.calls), stream.closed)
	}
}
