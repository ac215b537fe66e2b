package memory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/memory"
)

func Example() {
	st := memory.New(memory.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = st.Run(ctx) }() // sweeps dead counters until cancel

	now := time.Date(2030, 1, 1, 12, 0, 10, 0, time.UTC)
	hits := []counter.Hit{{Key: "tenant-a", Algorithm: counter.FixedWindow, Limit: 2, Window: time.Minute, Hits: 1}}
	out := make([]counter.Outcome, 1)
	for range 3 {
		if err := st.Apply(ctx, now, hits, out); err != nil {
			panic(err)
		}
		fmt.Printf("used %d allowed %t reset in %v\n", out[0].Used, out[0].Allowed, out[0].ResetAfter)
	}
	// Output:
	// used 1 allowed true reset in 50s
	// used 2 allowed true reset in 50s
	// used 3 allowed false reset in 50s
}
