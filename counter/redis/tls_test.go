package redis

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/bestefforttest"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/internal/testcerts"
	"github.com/tollgate/tollgate/internal/testenv"
)

// tlsModes maps each mode to the environment variable naming its TLS servers.
var tlsModes = []struct {
	mode Mode
	env  string
}{
	{ModeSingle, testenv.RedisTLS},
	{ModeRing, testenv.RedisTLSRing},
	{ModeCluster, testenv.RedisTLSCluster},
}

// tlsConfig builds the TLS configuration of the test servers the way the
// sidecar does, from rediss:// settings: their CA and client certificate.
func tlsConfig(t testing.TB, addrs []string) *tls.Config {
	t.Helper()
	r := settings.Redis{URL: "rediss://" + strings.Join(addrs, ","), TLS: settings.ClientTLS{
		CAFile:   testenv.Path(t, testenv.RedisTLSCA),
		CertFile: testenv.Path(t, testenv.RedisTLSCert),
		KeyFile:  testenv.Path(t, testenv.RedisTLSKey),
	}}
	cfg, err := r.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newStoreOn returns a Store on addrs with opts, closed at cleanup, with a
// generous timeout and, unless opts has one, a key prefix unique to the run.
func newStoreOn(t testing.TB, mode Mode, addrs []string, opts Options) *Store {
	t.Helper()
	opts.Mode, opts.Addrs = mode, addrs
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = fmt.Sprintf("tollgate-test:%d:", time.Now().UnixNano())
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// applyThree counts three hits on one fixed-window counter and checks the
// counts 1, 2, 3, then pings. The hits share one time, so a minute's end
// between two of them cannot start a new window.
func applyThree(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	hits := []counter.Hit{{Key: "tls", Algorithm: counter.FixedWindow, Limit: 2, Window: time.Minute, Hits: 1}}
	out := make([]counter.Outcome, 1)
	now := time.Now()
	for want := uint64(1); want <= 3; want++ {
		if err := s.Apply(ctx, now, hits, out); err != nil {
			t.Fatal(err)
		}
		if out[0].Used != want || out[0].Allowed != (want <= 2) {
			t.Fatalf("hit %d: outcome %+v, want used %d", want, out[0], want)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTLS counts and pings over TLS with a client certificate in every
// mode, as the default user and as the ACL user, and runs the conformance
// suite over TLS.
func TestTLS(t *testing.T) {
	for _, m := range tlsModes {
		t.Run(string(m.mode), func(t *testing.T) {
			addrs := testenv.Addrs(t, m.env)
			cfg := tlsConfig(t, addrs)
			applyThree(t, newStoreOn(t, m.mode, addrs, Options{TLS: cfg}))
			applyThree(t, newStoreOn(t, m.mode, addrs, Options{TLS: cfg, Username: testenv.RedisACLUser, Password: testenv.RedisACLPassword}))
			bestefforttest.Run(t, func(t *testing.T) bestefforttest.Backend {
				return newStoreOn(t, m.mode, addrs, Options{TLS: cfg, OverLimitCacheSize: -1})
			})
		})
	}
}

// TestTLSRefused checks the errors of a wrong CA and of a missing client
// certificate: unavailable, with the cause and a hint that names the fix.
func TestTLSRefused(t *testing.T) {
	addrs := testenv.Addrs(t, testenv.RedisTLS)
	good := tlsConfig(t, addrs)
	f := func(name string, cfg *tls.Config, cause, hint string) {
		t.Helper()
		s := newStoreOn(t, ModeSingle, addrs, Options{TLS: cfg, Timeout: time.Second})
		err := s.Ping(context.Background())
		prefix := "counter/redis: cannot ping single tls " + addrs[0] + ": " + counter.ErrUnavailable.Error() + ": "
		if err == nil || !errors.Is(err, counter.ErrUnavailable) || !strings.HasPrefix(err.Error(), prefix) ||
			!strings.Contains(err.Error(), cause) || !strings.HasSuffix(err.Error(), " ("+hint+")") {
			t.Errorf("%s: Ping() = %v\nwant %s...%s...(%s)", name, err, prefix, cause, hint)
		}
	}
	wrongCA := good.Clone()
	wrongCA.RootCAs = testcerts.NewCA(t, "not the redis CA").Pool()
	f("wrong CA", wrongCA, "tls: failed to verify certificate: x509: certificate signed by unknown authority",
		"the server's certificate does not verify: check the CA bundle and server name of Options.TLS")
	wrongName := good.Clone()
	wrongName.ServerName = "redis.example"
	f("wrong server name", wrongName, "x509: certificate is valid for localhost, not redis.example",
		"the server's certificate does not verify: check the CA bundle and server name of Options.TLS")
	noCert := good.Clone()
	noCert.Certificates = nil
	f("no client certificate", noCert, "tls: certificate required",
		"the TLS handshake failed: check the client certificate of Options.TLS and that the server speaks TLS on this port")
}

// TestACL logs in as the ACL user on a server whose default user is off,
// and checks that a wrong password and no login fail with errors that name
// the fix and never the password, in the error and in the log.
func TestACL(t *testing.T) {
	addrs := testenv.Addrs(t, testenv.RedisACL)
	applyThree(t, newStoreOn(t, ModeSingle, addrs, Options{Username: testenv.RedisACLUser, Password: testenv.RedisACLPassword}))

	const wrong = "wrong-password-7f3a"
	f := func(name, user, password, cause string) {
		t.Helper()
		var log bytes.Buffer
		s := newStoreOn(t, ModeSingle, addrs, Options{Username: user, Password: password, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		hits := []counter.Hit{{Key: "acl", Algorithm: counter.FixedWindow, Limit: 2, Window: time.Minute, Hits: 1}}
		applyErr := s.Apply(context.Background(), time.Now(), hits, make([]counter.Outcome, 1))
		pingErr := s.Ping(context.Background())
		const hint = " (check Options.Username and Password: the server refused them, needs them, or the ACL user lacks a permission)"
		want := map[string]error{
			"counter/redis: cannot apply 1 hits on single " + addrs[0] + ": " + counter.ErrUnavailable.Error() + ": " + cause + hint: applyErr,
			"counter/redis: cannot ping single " + addrs[0] + ": " + counter.ErrUnavailable.Error() + ": " + cause + hint:            pingErr,
		}
		for text, err := range want {
			if err == nil || err.Error() != text || !errors.Is(err, counter.ErrUnavailable) {
				t.Errorf("%s: error\n got %v\nwant %s", name, err, text)
			}
		}
		if !strings.Contains(log.String(), cause) {
			t.Errorf("%s: the log does not hold the failed Apply:\n%s", name, log.String())
		}
		for _, text := range []string{applyErr.Error(), pingErr.Error(), log.String()} {
			if password != "" && strings.Contains(text, password) {
				t.Errorf("%s: %q shows the password", name, text)
			}
		}
	}
	f("wrong password", testenv.RedisACLUser, wrong, "WRONGPASS invalid username-password pair or user is disabled.")
	f("unknown user", "nobody", testenv.RedisACLPassword, "WRONGPASS invalid username-password pair or user is disabled.")
	f("no login", "", "", "NOAUTH Authentication required.")
}

// leastPrivilege is the ACL rule of the commands a Store sends, the README's
// advice: the scripts' HMGET, HSET and PEXPIRE included.
const leastPrivilege = "-@all +ping +incrby +pexpire +evalsha +eval +hmget +hset"

// TestACLLeastPrivilege runs the conformance suite as an ACL user that may
// only send the commands of leastPrivilege on the keys under its prefix.
func TestACLLeastPrivilege(t *testing.T) {
	addrs := testenv.Addrs(t, testenv.RedisACL)
	admin := newStoreOn(t, ModeSingle, addrs, Options{Username: testenv.RedisACLUser, Password: testenv.RedisACLPassword})
	ctx := context.Background()
	n := time.Now().UnixNano()
	user, prefix := fmt.Sprintf("tollgate-min-%d", n), fmt.Sprintf("tollgate-test:%d:", n)
	rule := []any{"ACL", "SETUSER", user, "reset", "on", ">" + testenv.RedisACLPassword, "~" + prefix + "*"}
	for _, r := range strings.Fields(leastPrivilege) {
		rule = append(rule, r)
	}
	if err := admin.client.Do(ctx, rule...).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.client.Do(context.Background(), "ACL", "DELUSER", user).Err() })
	opts := Options{Username: user, Password: testenv.RedisACLPassword, KeyPrefix: prefix, OverLimitCacheSize: -1}
	applyThree(t, newStoreOn(t, ModeSingle, addrs, opts))
	bestefforttest.Run(t, func(t *testing.T) bestefforttest.Backend { return newStoreOn(t, ModeSingle, addrs, opts) })

	// Outside its prefix the user is refused, with the hint.
	opts.KeyPrefix = "elsewhere:"
	s := newStoreOn(t, ModeSingle, addrs, opts)
	err := s.Apply(ctx, time.Now(), []counter.Hit{{Key: "k", Algorithm: counter.FixedWindow, Limit: 1, Window: time.Minute, Hits: 1}}, make([]counter.Outcome, 1))
	if err == nil || !strings.Contains(err.Error(), "NOPERM") || !strings.HasSuffix(err.Error(), "(check Options.Username and Password: the server refused them, needs them, or the ACL user lacks a permission)") {
		t.Fatalf("Apply outside the user's keys = %v, want NOPERM with the hint", err)
	}
}
