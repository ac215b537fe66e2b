package rlqs

import (
	"math"
	"testing"
	"time"
)

func TestFairShares(t *testing.T) {
	tests := []struct {
		name    string
		budget  float64
		demands []float64
		want    []float64
	}{
		{"one stream over the limit", 100, []float64{400}, []float64{100}},
		{"one stream under the limit: demand plus headroom", 100, []float64{50}, []float64{60}},
		{"equal demand", 100, []float64{200, 200}, []float64{50, 50}},
		{"skew 1:4, both over: equal halves", 100, []float64{100, 400}, []float64{50, 50}},
		{"skew 1:9 with the small one under its half", 100, []float64{10, 90}, []float64{12, 88}},
		{"a new stream (no demand yet) gets the floor", 100, []float64{0, 400}, []float64{5, 95}},
		{"a quiet stream and a busy one", 100, []float64{1, 400}, []float64{5, 95}},
		{"three streams, one leaves room", 90, []float64{10, 100, 100}, []float64{12, 39, 39}},
		{"a quota used up", 0, []float64{100, 100}, []float64{0, 0}},
		{"a lowered limit", 10, []float64{100, 100}, []float64{5, 5}},
		{"everyone quiet: floors", 100, []float64{0, 0, 0, 0}, []float64{2.5, 2.5, 2.5, 2.5}},
		{"no streams", 100, nil, []float64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fairShares(tc.budget, tc.demands, nil)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			sum := 0.0
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-9 {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
				sum += got[i]
			}
			if sum > tc.budget+1e-9 && tc.budget > 0 {
				t.Errorf("shares %v sum to %v, over the budget %v", got, sum, tc.budget)
			}
		})
	}
}

func TestTokenBucket(t *testing.T) {
	tests := []struct {
		rate, burst float64
		want        TokenBucket
	}{
		{100, 100, TokenBucket{MaxTokens: 100, TokensPerFill: 100, FillInterval: time.Second}},
		{50, 0, TokenBucket{MaxTokens: 50, TokensPerFill: 50, FillInterval: time.Second}},
		{1.0 / 6, 2, TokenBucket{MaxTokens: 2, TokensPerFill: 1, FillInterval: 6 * time.Second}}, // 10/minute
		{2.5, 3, TokenBucket{MaxTokens: 5, TokensPerFill: 5, FillInterval: 2 * time.Second}},
		{0.001, 1, TokenBucket{MaxTokens: 1, TokensPerFill: 1, FillInterval: 60 * time.Second}},
		{0, 1, TokenBucket{MaxTokens: 1, TokensPerFill: 1, FillInterval: 60 * time.Second}},
		{1000.4, 1500.2, TokenBucket{MaxTokens: 1501, TokensPerFill: 1000, FillInterval: time.Second}},
	}
	for _, tc := range tests {
		if got := tokenBucket(tc.rate, tc.burst); got != tc.want {
			t.Errorf("tokenBucket(%v, %v) = %+v, want %+v", tc.rate, tc.burst, got, tc.want)
		}
	}
}

func TestTokenBucketNear(t *testing.T) {
	a := tokenBucket(100, 100)
	if !a.near(tokenBucket(95, 100)) || !a.near(tokenBucket(100, 92)) {
		t.Error("5% and 8% apart are near")
	}
	if a.near(tokenBucket(80, 100)) || a.near(tokenBucket(100, 150)) {
		t.Error("20% apart in rate, 33% in burst: not near")
	}
}
