/* Unit tests for src/api/ratelimit: the per-key token bucket, with injected monotonic time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/ratelimit.h"

#define S 1000000000LL
#define T0 (1000 * S)			/* an arbitrary monotonic start */

static void
test_burst_then_rate(void **state)
{
	struct rl *rl = rl_new(10, 5, 64);
	int64_t retry = -1;
	int i;

	(void)state;
	assert_non_null(rl);
	assert_int_equal(rl_rate(rl), 10);
	/* a fresh key has its whole burst */
	for (i = 0; i < 5; i++)
		assert_true(rl_allow_at(rl, "admin", T0, NULL));
	assert_false(rl_allow_at(rl, "admin", T0, &retry));
	assert_int_equal(retry, S / 10);	/* one interval until the next token */
	assert_int_equal(rl_retry_after_s(retry), 1);
	/* just before the token is back: still refused, with the rest of the wait */
	assert_false(rl_allow_at(rl, "admin", T0 + S / 10 - 1, &retry));
	assert_int_equal(retry, 1);
	assert_true(rl_allow_at(rl, "admin", T0 + S / 10, NULL));
	assert_false(rl_allow_at(rl, "admin", T0 + S / 10, NULL));
	/* the steady rate: one request per 100 ms is always allowed */
	for (i = 2; i < 50; i++)
		assert_true(rl_allow_at(rl, "admin", T0 + i * (S / 10), NULL));
	/* idle long enough: the burst is back, and not more than the burst */
	for (i = 0; i < 5; i++)
		assert_true(rl_allow_at(rl, "admin", T0 + 100 * S, NULL));
	assert_false(rl_allow_at(rl, "admin", T0 + 100 * S, NULL));
	rl_free(rl);
}

static void
test_refusals_do_not_cost(void **state)
{
	struct rl *rl = rl_new(1, 1, 8);
	int i;

	(void)state;
	assert_true(rl_allow_at(rl, "k", T0, NULL));
	/* hammering while limited does not push the next allowed time further out */
	for (i = 0; i < 1000; i++)
		assert_false(rl_allow_at(rl, "k", T0 + i, NULL));
	assert_true(rl_allow_at(rl, "k", T0 + S, NULL));
	rl_free(rl);
}

static void
test_keys_are_independent(void **state)
{
	struct rl *rl = rl_new(1, 2, 64);

	(void)state;
	assert_true(rl_allow_at(rl, "alice", T0, NULL));
	assert_true(rl_allow_at(rl, "alice", T0, NULL));
	assert_false(rl_allow_at(rl, "alice", T0, NULL));
	assert_true(rl_allow_at(rl, "bob", T0, NULL));
	assert_true(rl_allow_at(rl, "bob", T0, NULL));
	assert_false(rl_allow_at(rl, "bob", T0, NULL));
	assert_int_equal(rl_count(rl), 2);
	rl_free(rl);
}

static void
test_burst_default_and_bad_config(void **state)
{
	struct rl *rl = rl_new(100, 0, 4);	/* burst 0 = one second's worth */
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_true(rl_allow_at(rl, "x", T0, NULL));
	assert_false(rl_allow_at(rl, "x", T0, NULL));
	rl_free(rl);
	assert_null(rl_new(0, 1, 4));
	assert_null(rl_new(1000001, 1, 4));
	assert_null(rl_new(1, 1, 0));
	rl_free(NULL);
}

static void
test_table_is_capped_and_evicts_idle(void **state)
{
	struct rl *rl = rl_new(1, 1, 32);	/* 2 slots per shard */
	char key[32];
	int i;

	(void)state;
	/* the limited key stays limited while many idle keys come and go */
	assert_true(rl_allow_at(rl, "hot", T0, NULL));
	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		assert_true(rl_allow_at(rl, key, T0 + 2 * S + i, NULL));
	}
	assert_true(rl_count(rl) <= 32);
	/* every new key evicted the most idle one of its shard: "hot" (tat T0+1s) went first,
	 * which only gives it a fresh bucket; a key just used is still limited */
	assert_false(rl_allow_at(rl, key, T0 + 2 * S + 10000, NULL));
	rl_free(rl);
}

static void
test_retry_after_rounds_up(void **state)
{
	(void)state;
	assert_int_equal(rl_retry_after_s(0), 1);
	assert_int_equal(rl_retry_after_s(1), 1);
	assert_int_equal(rl_retry_after_s(S), 1);
	assert_int_equal(rl_retry_after_s(S + 1), 2);
	assert_int_equal(rl_retry_after_s(59 * S + 5), 60);
}

static void
test_long_key_is_cut(void **state)
{
	char a[200], b[200];
	struct rl *rl = rl_new(1, 1, 4);

	(void)state;
	memset(a, 'a', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[150] = 'b';			/* differs only past RL_KEY_MAX: the same bucket */
	assert_true(rl_allow_at(rl, a, T0, NULL));
	assert_false(rl_allow_at(rl, b, T0, NULL));
	assert_true(rl_allow_at(rl, "", T0, NULL));
	/* a NULL key is the empty key: allowed once more only after a second */
	assert_false(rl_allow_at(rl, NULL, T0, NULL));
	rl_free(rl);
}

struct worker_arg {
	struct rl *rl;
	int allowed;
};

static void *
worker(void *p)
{
	struct worker_arg *w = p;
	int i;

	for (i = 0; i < 10000; i++)
		if (rl_allow_at(w->rl, "shared", T0, NULL))
			w->allowed++;
	return NULL;
}

static void
test_threads_share_one_bucket_exactly(void **state)
{
	struct rl *rl = rl_new(1000, 500, 16);
	struct worker_arg w[4];
	pthread_t t[4];
	int i, total = 0;

	(void)state;
	for (i = 0; i < 4; i++) {
		w[i].rl = rl;
		w[i].allowed = 0;
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += w[i].allowed;
	}
	assert_int_equal(total, 500);	/* the burst, exactly, however the threads interleave */
	rl_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_refusals_do_not_cost),
		cmocka_unit_test(test_keys_are_independent),
		cmocka_unit_test(test_burst_default_and_bad_config),
		cmocka_unit_test(test_table_is_capped_and_evicts_idle),
		cmocka_unit_test(test_retry_after_rounds_up),
		cmocka_unit_test(test_long_key_is_cut),
		cmocka_unit_test(test_threads_share_one_bucket_exactly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
