package mockserver

import (
	"errors"
	"fmt"
	"time"
)

// MaxClockOffset bounds how far the control API may move the mock clock
// from the real clock (POST /__mock/clock/advance), in total: about 100
// years, far inside what time.Duration and Unix nanoseconds can hold, so
// the clock never overflows (three 876000h advances once sent it to 1742).
const MaxClockOffset = 100 * 365 * 24 * time.Hour

// ErrClockRange is wrapped by the error of an advance that would move the
// mock clock past MaxClockOffset; the control API answers it with 400.
var ErrClockRange = errors.New("mock clock out of range")

// ClockRangeError is an advance refused because the total offset would
// pass MaxClockOffset.
type ClockRangeError struct {
	By     time.Duration // the advance asked for
	Offset time.Duration // the offset before it
}

func (e *ClockRangeError) Error() string {
	return fmt.Sprintf("advancing the mock clock by %s would put it %s away from the real clock (it is %s ahead now); the limit is %s: reset the mock to rewind it",
		e.By, clockSpan(e.Offset, e.By), e.Offset, MaxClockOffset)
}

// Unwrap makes errors.Is(err, ErrClockRange) hold.
func (e *ClockRangeError) Unwrap() error { return ErrClockRange }

// clockSpan says offset+by without overflowing.
func clockSpan(offset, by time.Duration) string {
	if sum := offset + by; (by > 0) == (sum > offset) {
		return sum.String()
	}
	return "more than 292 years"
}

// mockClock is the mock clock: the real clock plus what the control API
// advanced. It is not safe for concurrent use; the store guards it.
type mockClock struct {
	realNow func() time.Time
	offset  time.Duration
}

func (c *mockClock) now() time.Time { return c.realNow().Add(c.offset) }

// advance moves the clock by d, or refuses with a *ClockRangeError when
// the total offset would leave [-MaxClockOffset, MaxClockOffset].
func (c *mockClock) advance(d time.Duration) error {
	if (d > 0 && d > MaxClockOffset-c.offset) || (d < 0 && d < -MaxClockOffset-c.offset) {
		return &ClockRangeError{By: d, Offset: c.offset}
	}
	c.offset += d
	return nil
}
