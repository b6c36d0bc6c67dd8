#include "core/clock.h"

#include <pthread.h>

#include "core/util.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t offset;			/* virtual - wall, while running */
static bool frozen;
static int64_t frozen_at;		/* the virtual time while frozen */

int64_t
clock_now_ms(void)
{
	int64_t now;

	pthread_mutex_lock(&mu);
	now = frozen ? frozen_at : util_now_ms() + offset;
	pthread_mutex_unlock(&mu);
	return now;
}

int64_t
clock_offset_ms(void)
{
	int64_t o;

	pthread_mutex_lock(&mu);
	o = frozen ? frozen_at - util_now_ms() : offset;
	pthread_mutex_unlock(&mu);
	return o;
}

int64_t
clock_advance_ms(int64_t ms)
{
	int64_t o;

	if (ms < 0)
		ms = 0;
	pthread_mutex_lock(&mu);
	if (frozen)
		frozen_at += ms;
	else
		offset += ms;
	o = frozen ? frozen_at - util_now_ms() : offset;
	pthread_mutex_unlock(&mu);
	return o;
}

void
clock_freeze(bool on)
{
	pthread_mutex_lock(&mu);
	if (on && !frozen) {
		frozen_at = util_now_ms() + offset;
		frozen = true;
	} else if (!on && frozen) {
		/* continue from the frozen instant: time never jumps backwards */
		offset = frozen_at - util_now_ms();
		frozen = false;
	}
	pthread_mutex_unlock(&mu);
}

bool
clock_frozen(void)
{
	bool f;

	pthread_mutex_lock(&mu);
	f = frozen;
	pthread_mutex_unlock(&mu);
	return f;
}
