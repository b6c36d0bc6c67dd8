/*
 * clock.h - the daemon's virtual clock: wall time plus an offset that only grows, or frozen at
 * one instant (tests freeze it, then advance it step by step).
 *
 * Everything that expires (access tokens now; SA lifetimes, DPD and BGP timers later) reads
 * clock_now_ms(), so tests can move time forward through the emulator API instead of sleeping.
 * Object timestamps (_create_time, ...) use the wall clock (util_now_ms) and are not affected.
 */
#ifndef VPND_CLOCK_H
#define VPND_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

int64_t clock_now_ms(void);
int64_t clock_offset_ms(void);
/* Move the clock forward by @ms (>= 0); returns the new offset. */
int64_t clock_advance_ms(int64_t ms);
/* Stop (true) or restart (false) the clock; restarting continues from the frozen instant. */
void clock_freeze(bool on);
bool clock_frozen(void);

#endif
