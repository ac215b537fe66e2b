package global_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/counter/pebble"
)

func Example() {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store, err := pebble.Open(pebble.Options{FS: vfs.NewMem(), Dir: "counters", Now: clock})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	counters, err := global.New(global.Options{
		Store:      store,
		Namespaces: map[string]global.NamespaceOptions{"api_calls": {Type: global.Accurate}},
		Now:        clock,
	})
	if err != nil {
		panic(err)
	}
	defer counters.Close()

	ctx := context.Background()
	tok := global.IdempotencyToken{Token: "req-1", GenerationTime: now}
	n, _ := counters.AddAndGetCount(ctx, "api_calls", "tenant-42", 3, tok)
	fmt.Println(n)
	n, _ = counters.AddAndGetCount(ctx, "api_calls", "tenant-42", 3, tok) // a retry counts once
	fmt.Println(n)
	// Output:
	// 3
	// 3
}
