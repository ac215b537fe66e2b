package tlsconf

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures a Source.
type Options struct {
	// Config is the listener's resolved block (see Resolve). It must be
	// valid and turn TLS on. Required.
	Config Config
	// Listener names the listener in metrics and logs, e.g. grpc or http.
	// Required.
	Listener string
	// Logger receives reload results. Default: a logger that discards.
	Logger *slog.Logger
	// Registerer receives tollgate_tls_reloads_total{listener,result} and
	// tollgate_tls_certificate_expiry_timestamp_seconds{listener}; Sources
	// of several listeners may share one. Default: a private registry, so
	// the metrics are not exported.
	Registerer prometheus.Registerer
	// Interval is how often Run re-reads the files whether or not a change
	// was notified. Default: 30s.
	Interval time.Duration
	// Debounce is how long notified changes must settle before a reload.
	// Default: 100ms.
	Debounce time.Duration
}

// EnsureDefaults fills the zero fields of o with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.Debounce <= 0 {
		o.Debounce = 100 * time.Millisecond
	}
}

// Source serves a listener's certificate, key and client CA bundle from
// files, reloaded by Run when they change. Its methods are safe for
// concurrent use.
type Source struct {
	opts    Options
	log     *slog.Logger
	current atomic.Pointer[tls.Config]

	success, failure prometheus.Counter
	expiry           prometheus.Gauge

	// loaded is the digest of the files in use; failed that of the last
	// files that did not load, so they are reported once. Run owns them.
	loaded, failed [sha256.Size]byte
	// pollOnly makes Run skip file notifications (tests of the fallback).
	pollOnly bool

	started   atomic.Bool
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New validates opts, loads the files and then registers the metrics. Call
// Run to follow changes of the files.
func New(opts Options) (*Source, error) {
	opts.EnsureDefaults()
	if opts.Listener == "" {
		return nil, errors.New("tlsconf: Options.Listener is empty (hint: grpc or http)")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("tlsconf: %s listener: %w", opts.Listener, err)
	}
	if !opts.Config.Enabled() {
		return nil, fmt.Errorf("tlsconf: %s listener: cert_file is empty; a Source serves TLS only", opts.Listener)
	}
	s := &Source{opts: opts}
	files, digest := s.read()
	cfg, err := s.build(files)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: %s listener: %w", opts.Listener, err)
	}
	reloads, err := register(opts.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_tls_reloads_total",
		Help: "Reloads of a listener's TLS certificate, key or client CA files after they changed, by result (success, failure).",
	}, []string{"listener", "result"}))
	if err != nil {
		return nil, err
	}
	expiry, err := register(opts.Registerer, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tollgate_tls_certificate_expiry_timestamp_seconds",
		Help: "Unix time at which the certificate a listener serves expires.",
	}, []string{"listener"}))
	if err != nil {
		return nil, err
	}
	s.log = opts.Logger.With("component", "tls", "listener", opts.Listener)
	s.success = reloads.WithLabelValues(opts.Listener, "success")
	s.failure = reloads.WithLabelValues(opts.Listener, "failure")
	s.expiry = expiry.WithLabelValues(opts.Listener)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.install(cfg, digest)
	return s, nil
}

// register registers c on reg, or returns the equal collector already
// registered (the Source of another listener registered it).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("tlsconf: cannot register metrics: %w", err)
	}
	return c, nil
}

// TLSConfig returns a server configuration whose handshakes use the files
// as last loaded, for grpc credentials.NewTLS, http.Server.TLSConfig or
// tls.NewListener. It negotiates h2 and http/1.1 by ALPN. A client may
// resume a session only while its certificate still verifies against the
// CA bundle in use (crypto/tls checks that on resumption).
func (s *Source) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: s.opts.Config.version(),
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current.Load(), nil
		},
	}
}

// Run follows changes of the files until ctx is done or Close is called,
// and returns nil. It watches the files' directories and also re-reads the
// files every Interval, which also covers a watched directory that was
// itself replaced (a Kubernetes volume swaps a symlink inside it, which the
// watch sees). Changed files that load replace the served
// certificates for new connections; files that do not load leave them as
// they are. Run may be called once.
func (s *Source) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("tlsconf: Source.Run called twice")
	}
	defer close(s.done)
	select {
	case <-s.stop:
		return nil
	default:
	}
	var (
		w      *fsnotify.Watcher
		events <-chan fsnotify.Event
		errs   <-chan error
	)
	if !s.pollOnly {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			s.log.Warn("cannot watch the certificate files; re-reading them periodically only", "interval", s.opts.Interval, "err", err)
		} else {
			defer w.Close()
			events, errs = w.Events, w.Errors
			s.watch(w)
		}
	}
	ticker := time.NewTicker(s.opts.Interval)
	defer ticker.Stop()
	// The first reload catches changes made between New and the watches.
	settle := time.NewTimer(s.opts.Debounce)
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			s.log.Debug("certificate directory changed", "event", ev.String())
			settle.Reset(s.opts.Debounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			s.log.Warn("certificate watch error", "err", err)
		case <-settle.C:
			s.reload()
		case <-ticker.C:
			s.reload()
		}
	}
}

// Close stops Run and waits for it to return. It may be called more than
// once, and before Run. TLSConfig keeps serving the last loaded files.
func (s *Source) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	if s.started.Load() {
		<-s.done
	}
	return nil
}

// watch adds the directories of the files to w.
func (s *Source) watch(w *fsnotify.Watcher) {
	seen := map[string]bool{}
	for _, f := range s.paths() {
		dir := filepath.Dir(f)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if err := w.Add(dir); err != nil {
			s.log.Warn("cannot watch a certificate directory; re-reading it periodically", "dir", dir, "err", err)
		}
	}
}

// paths returns the files in use: the key pair and, when clients are
// asked for certificates, the CA bundle.
func (s *Source) paths() []string {
	c := &s.opts.Config
	if c.clientAuth() == tls.NoClientCert {
		return []string{c.CertFile, c.KeyFile}
	}
	return []string{c.CertFile, c.KeyFile, c.ClientCAFile}
}

// files are the contents of the files, or why they could not be read.
type files struct {
	data [][]byte
	err  error
}

// read reads the files and returns them with a digest of what was read,
// read errors included.
func (s *Source) read() (files, [sha256.Size]byte) {
	h := sha256.New()
	var f files
	for _, p := range s.paths() {
		data, err := os.ReadFile(p)
		if err != nil {
			f.err = errors.Join(f.err, fmt.Errorf("cannot read %s: %w", p, err))
			fmt.Fprintf(h, "error %d %s\n", len(err.Error()), err)
		}
		fmt.Fprintf(h, "file %d\n", len(data))
		h.Write(data)
		f.data = append(f.data, data)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return f, sum
}

// build parses the files into the configuration of a handshake.
func (s *Source) build(f files) (*tls.Config, error) {
	if f.err != nil {
		return nil, f.err
	}
	c := &s.opts.Config
	pair, err := tls.X509KeyPair(f.data[0], f.data[1])
	if err != nil {
		return nil, fmt.Errorf("cannot use cert_file %s with key_file %s: %w (hint: both PEM, the key matching the first certificate)", c.CertFile, c.KeyFile, err)
	}
	if pair.Leaf == nil { // GODEBUG=x509keypairleaf=0
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("cannot parse cert_file %s: %w", c.CertFile, err)
		}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   c.clientAuth(),
		MinVersion:   c.version(),
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if len(f.data) > 2 {
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(f.data[2]) {
			return nil, fmt.Errorf("client_ca_file %s holds no PEM certificate (hint: the CA bundle client certificates are issued by)", c.ClientCAFile)
		}
	}
	return cfg, nil
}

// install serves cfg for new handshakes.
func (s *Source) install(cfg *tls.Config, digest [sha256.Size]byte) {
	s.current.Store(cfg)
	s.loaded, s.failed = digest, [sha256.Size]byte{}
	leaf := cfg.Certificates[0].Leaf
	s.expiry.Set(float64(leaf.NotAfter.Unix()))
	s.log.Info("tls certificates loaded", "cert_file", s.opts.Config.CertFile,
		"subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
}

// reload loads the files if they changed since they last loaded or failed.
func (s *Source) reload() {
	f, digest := s.read()
	switch digest {
	case s.loaded:
		s.failed = [sha256.Size]byte{} // back to the files in use
		return
	case s.failed:
		return // reported already
	}
	cfg, err := s.build(f)
	if err != nil {
		s.failed = digest
		s.failure.Inc()
		s.log.Error("tls reload failed; serving the previous certificates", "err", err)
		return
	}
	s.success.Inc()
	s.install(cfg, digest)
}
