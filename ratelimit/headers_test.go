package ratelimit

import (
	"testing"
	"time"
)

func TestTightest(t *testing.T) {
	minute := &LimitInfo{RequestsPerUnit: 10, Unit: UnitMinute, Window: time.Minute}
	hour := &LimitInfo{RequestsPerUnit: 100, Unit: UnitHour, Window: time.Hour}
	ok := func(l *LimitInfo, remaining uint32, reset time.Duration) DescriptorStatus {
		return DescriptorStatus{Code: CodeOK, CurrentLimit: l, LimitRemaining: remaining, DurationUntilReset: reset}
	}
	over := func(l *LimitInfo, reset time.Duration) DescriptorStatus {
		return DescriptorStatus{Code: CodeOverLimit, CurrentLimit: l, DurationUntilReset: reset}
	}
	f := func(name string, sts []DescriptorStatus, want int) {
		t.Helper()
		if got := Tightest(sts); got != want {
			t.Errorf("%s: Tightest = %d, want %d", name, got, want)
		}
	}
	f("none", nil, -1)
	f("no limit applied", []DescriptorStatus{{Code: CodeOK}, {Code: CodeOK, LimitRemaining: 1 << 31}}, -1)
	f("a limit beats none, even with fewer remaining", []DescriptorStatus{{Code: CodeOK}, ok(hour, 50, time.Second)}, 1)
	f("fewer remaining", []DescriptorStatus{ok(minute, 5, time.Second), ok(hour, 4, time.Second)}, 1)
	f("over limit beats fewer remaining", []DescriptorStatus{ok(minute, 0, time.Minute), over(hour, time.Second)}, 1)
	f("over limit kept against a later ok", []DescriptorStatus{over(minute, time.Second), ok(hour, 0, time.Hour)}, 0)
	f("tie on remaining: longer reset", []DescriptorStatus{ok(minute, 3, 10*time.Second), ok(hour, 3, 20*time.Second)}, 1)
	f("tie on remaining: longer reset first", []DescriptorStatus{ok(hour, 3, 20*time.Second), ok(minute, 3, 10*time.Second)}, 0)
	f("both over: longer reset", []DescriptorStatus{over(minute, 10*time.Second), over(hour, 30*time.Minute)}, 1)
	f("full tie: the first", []DescriptorStatus{ok(minute, 3, 10*time.Second), ok(hour, 3, 10*time.Second)}, 0)
	f("full tie over: the first", []DescriptorStatus{{Code: CodeOK}, over(hour, time.Second), over(minute, time.Second)}, 1)
}

func TestTighterIsStrict(t *testing.T) {
	a := DescriptorStatus{Code: CodeOK, CurrentLimit: &LimitInfo{}, LimitRemaining: 3, DurationUntilReset: time.Second}
	if Tighter(&a, &a) {
		t.Error("a status is tighter than itself")
	}
}

func TestFormatLimit(t *testing.T) {
	f := func(requests uint64, window time.Duration, want string) {
		t.Helper()
		if got := FormatLimit(requests, window); got != want {
			t.Errorf("FormatLimit(%d, %v) = %q, want %q", requests, window, got, want)
		}
	}
	f(5, time.Minute, "5, 5;w=60")
	f(1, time.Second, "1, 1;w=1")
	f(100000000, time.Hour, "100000000, 100000000;w=3600")
	f(1<<64-1, 30*24*time.Hour, "18446744073709551615, 18446744073709551615;w=2592000")
}

func TestFormatSeconds(t *testing.T) {
	f := func(d time.Duration, want string) {
		t.Helper()
		if got := FormatSeconds(d); got != want {
			t.Errorf("FormatSeconds(%v) = %q, want %q", d, got, want)
		}
	}
	f(0, "0")
	f(time.Nanosecond, "1")
	f(time.Second, "1")
	f(time.Second+time.Millisecond, "2")
	f(40*time.Second, "40")
}
