#include "core/clock.h"

#include <stdatomic.h>

#include "core/util.h"

static _Atomic int64_t offset;

int64_t
clock_now_ms(void)
{
	return util_now_ms() + atomic_load(&offset);
}

int64_t
clock_offset_ms(void)
{
	return atomic_load(&offset);
}

int64_t
clock_advance_ms(int64_t ms)
{
	if (ms < 0)
		ms = 0;
	return atomic_fetch_add(&offset, ms) + ms;
}
