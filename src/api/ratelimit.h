/*
 * ratelimit.h - request-rate limits per key (a token's name, a client address): one token
 * bucket per key, in its GCRA form (one "theoretical arrival time" per key, integer
 * nanoseconds). A key may send @burst requests at once and @rate per second after that.
 *
 * The table is sharded (16 mutexes, the key's hash picks one) and capped at @max_keys: a new
 * key takes a free slot, else the slot of its shard's most idle key (a key whose bucket has
 * refilled carries no state, so evicting it loses nothing). Memory is fixed at rl_new.
 * Time is CLOCK_MONOTONIC (never the emulator's virtual clock); rl_allow_at takes it injected,
 * for tests.
 */
#ifndef VPND_RATELIMIT_H
#define VPND_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define RL_KEY_MAX 80			/* longer keys are cut (token names are <= 64) */

struct rl;

/* @rate requests/s (1..1000000), @burst >= 1 (0 = @rate), @max_keys >= 1. NULL on error. */
struct rl *rl_new(unsigned rate, unsigned burst, size_t max_keys);
void rl_free(struct rl *rl);		/* NULL-safe */

/*
 * Count one request of @key at @now_ns (monotonic). True if allowed; false if over the limit,
 * with *retry_ns (if non-NULL) the wait until one request would be allowed again.
 */
bool rl_allow_at(struct rl *rl, const char *key, int64_t now_ns, int64_t *retry_ns);
/* rl_allow_at with the current CLOCK_MONOTONIC time. */
bool rl_allow(struct rl *rl, const char *key, int64_t *retry_ns);

/* The configured rate (requests/s), for messages. */
unsigned rl_rate(const struct rl *rl);
/* Keys currently held (for tests and stats). */
size_t rl_count(struct rl *rl);
/* Retry-After seconds for a wait of @retry_ns: rounded up, at least 1. */
unsigned rl_retry_after_s(int64_t retry_ns);

#endif
