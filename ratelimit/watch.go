package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
)

// WatchOptions configures Watch.
type WatchOptions struct {
	// Logger receives reload results and config errors.
	// Default: a logger that discards.
	Logger *slog.Logger
	// Registerer receives tollgate_config_reloads_total{result} and
	// tollgate_config_last_reload_success_timestamp_seconds.
	// Default: a private registry, so the metrics are not exported.
	Registerer prometheus.Registerer
	// OnLoad receives each config that loaded without errors, typically
	// Service.SetConfig. Required.
	OnLoad func(*Config)
	// Now is the clock of the success timestamp. Default: time.Now.
	Now func() time.Time
	// Debounce is how long changes must settle before a reload.
	// Default: 100ms.
	Debounce time.Duration
}

// EnsureDefaults fills the zero fields of o with their defaults.
func (o *WatchOptions) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Debounce <= 0 {
		o.Debounce = 100 * time.Millisecond
	}
}

// Watch reloads the config at path (a file or a directory, as LoadConfig
// takes it) whenever it changes, until ctx is done, and then returns nil.
// It watches the directory holding the config files and the directory above
// the path, so edits, new and removed files, editors' rename-on-save and
// Kubernetes ConfigMap "..data" symlink swaps all trigger a reload, once the
// changes have settled for Debounce. A config that fails to load is logged
// and counted, and OnLoad is not called: the old config stays in use.
//
// Load the config with LoadConfig before calling Watch. Once its watches are
// in place, Watch reloads once, so a change made between that LoadConfig and
// the start of watching is not missed. It returns an error only when
// watching cannot start.
func Watch(ctx context.Context, path string, opts WatchOptions) error {
	opts.EnsureDefaults()
	if opts.OnLoad == nil {
		return errors.New("ratelimit: WatchOptions.OnLoad is nil (hint: pass Service.SetConfig)")
	}
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_config_reloads_total",
		Help: "Rate-limit config reloads by result (success, failure).",
	}, []string{"result"})
	lastSuccess := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tollgate_config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful rate-limit config reload.",
	})
	for _, c := range []prometheus.Collector{reloads, lastSuccess} {
		if err := opts.Registerer.Register(c); err != nil {
			return fmt.Errorf("ratelimit: cannot register reload metrics: %w", err)
		}
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("ratelimit: cannot watch config: %w", err)
	}
	defer w.Close()
	log := opts.Logger.With("component", "ratelimit_watch", "path", path)

	clean := filepath.Clean(path)
	parent := filepath.Dir(clean)
	// watchDirs watches the directory of the config files and, when that is
	// path itself, path's parent for swaps of path.
	watchDirs := func() error {
		dir := parent
		if isDir(clean) {
			dir = clean
		}
		err := w.Add(dir)
		if dir != parent {
			err = errors.Join(err, w.Add(parent))
		}
		return err
	}
	if err := watchDirs(); err != nil {
		return fmt.Errorf("ratelimit: cannot watch config %q: %w (hint: the path and its directory must exist)", path, err)
	}
	success, failure := reloads.WithLabelValues("success"), reloads.WithLabelValues("failure")

	// The first reload catches changes made before the watches were in place.
	timer := time.NewTimer(opts.Debounce)
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if name := filepath.Clean(ev.Name); filepath.Dir(name) == parent && name != clean && isDir(clean) {
				continue // a sibling of the config directory
			}
			log.Debug("config change", "event", ev.String())
			timer.Reset(opts.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			log.Warn("config watch error", "err", err)
		case <-timer.C:
			// The watched directory may have been replaced: watch it anew.
			if err := watchDirs(); err != nil {
				log.Warn("cannot re-watch config", "err", err)
			}
			cfg, err := LoadConfig(path)
			if err != nil {
				failure.Inc()
				log.Error("config reload failed; keeping the old config", "err", err)
				continue
			}
			success.Inc()
			lastSuccess.Set(float64(opts.Now().UnixNano()) / 1e9)
			log.Info("config reloaded", "domains", len(cfg.domains), "files", len(cfg.files))
			opts.OnLoad(cfg)
		}
	}
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
