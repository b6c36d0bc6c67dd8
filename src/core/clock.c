#include "core/clock.h"

#include <pthread.h>
#include <stdatomic.h>

#include "core/util.h"

/*
 * Lock-free reads (every authenticated request asks for the time). Writers (the emulator API)
 * serialise on a mutex; a reader racing a freeze/unfreeze may see the instant just before or
 * just after it, which is harmless.
 */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int64_t offset;		/* virtual - wall, while running */
static _Atomic bool frozen;
static _Atomic int64_t frozen_at;	/* the virtual time while frozen */

int64_t
clock_now_ms(void)
{
	if (atomic_load_explicit(&frozen, memory_order_acquire))
		return atomic_load(&frozen_at);
	return util_now_ms() + atomic_load_explicit(&offset, memory_order_relaxed);
}

int64_t
clock_offset_ms(void)
{
	return clock_now_ms() - util_now_ms();
}

int64_t
clock_advance_ms(int64_t ms)
{
	int64_t cur;

	if (ms < 0)
		ms = 0;
	pthread_mutex_lock(&mu);
	/* saturate: a virtual time past INT64_MAX would wrap into the past */
	cur = clock_now_ms();
	if (ms > INT64_MAX / 2 - cur)
		ms = INT64_MAX / 2 - cur > 0 ? INT64_MAX / 2 - cur : 0;
	if (atomic_load(&frozen))
		atomic_fetch_add(&frozen_at, ms);
	else
		atomic_fetch_add(&offset, ms);
	pthread_mutex_unlock(&mu);
	return clock_offset_ms();
}

void
clock_freeze(bool on)
{
	pthread_mutex_lock(&mu);
	if (on && !atomic_load(&frozen)) {
		atomic_store(&frozen_at, util_now_ms() + atomic_load(&offset));
		atomic_store_explicit(&frozen, true, memory_order_release);
	} else if (!on && atomic_load(&frozen)) {
		/* continue from the frozen instant: time never jumps backwards */
		atomic_store(&offset, atomic_load(&frozen_at) - util_now_ms());
		atomic_store_explicit(&frozen, false, memory_order_release);
	}
	pthread_mutex_unlock(&mu);
}

bool
clock_frozen(void)
{
	return atomic_load(&frozen);
}
