/*
 * fuzz.h - helpers shared by the libFuzzer harnesses in tests/fuzz/ (docs/fuzz.md).
 *
 * FUZZ_CHECK states an invariant: when it does not hold the harness prints what broke and
 * aborts, which libFuzzer reports as a crash and saves the input. fuzz_stack is a whole vpnd
 * minus the HTTP layer (store in a temporary directory, model, auth, emulated realization
 * engine, api) for the harnesses that drive api_handle(); it lives for the whole process.
 */
#ifndef VPND_FUZZ_H
#define VPND_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)							\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "invariant failed (%s:%d): %s: ", __FILE__,	\
				__LINE__, #cond);				\
			fprintf(stderr, __VA_ARGS__);				\
			fputc('\n', stderr);					\
			abort();						\
		}								\
	} while (0)

/* schema_init() or exit (harnesses that validate without a whole stack). */
void fuzz_schema_init(void);

/* A NUL-terminated heap copy of @n bytes of @d (embedded NULs cut it short). Never NULL. */
char *fuzz_strndup(const uint8_t *d, size_t n);

/* A cursor over the fuzz input, for harnesses that build structured values from bytes. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};
uint8_t fuzz_u8(struct fuzz_in *in);		/* 0 when exhausted */
uint64_t fuzz_u64(struct fuzz_in *in);
/* The next string: up to the next NUL byte (or the end), at most @max bytes. Heap; never NULL. */
char *fuzz_take_str(struct fuzz_in *in, size_t max);

#define FUZZ_MAX_PARAMS 16

/* One request for fuzz_call(); query and headers are key/value pairs. */
struct fuzz_req {
	enum api_method method;
	const char *method_name;
	const char *url;
	const char *qk[FUZZ_MAX_PARAMS], *qv[FUZZ_MAX_PARAMS];
	size_t nq;
	const char *hk[FUZZ_MAX_PARAMS], *hv[FUZZ_MAX_PARAMS];
	size_t nh;
	const char *body;
	size_t body_len;
};

struct fuzz_stack {
	char dir[256];
	struct store *st;
	struct model *m;
	struct auth *au;
	struct rz *rz;
	struct api *api;
	char refresh_admin[AUTH_REFRESH_LEN + 1], refresh_auditor[AUTH_REFRESH_LEN + 1];
	char *access_admin, *access_auditor;	/* access tokens (heap) */
};

#define FUZZ_ORG "2f3c-org-1"
#define FUZZ_SDDC "9a1b-sddc-7"

/* Build the stack once (exits on failure); torn down at exit. */
struct fuzz_stack *fuzz_stack_get(void);

/* Run @rq through api_handle, waiting for a deferred (durable write) answer. Caller frees
 * resp->body. Adds the admin token unless @rq has headers of its own. */
void fuzz_call(struct fuzz_stack *fs, const struct fuzz_req *rq, struct api_resp *resp);
/* Convenience: @method on @url with a JSON @body as admin; returns the status (body freed). */
int fuzz_simple(struct fuzz_stack *fs, enum api_method method, const char *url, const char *body);

/* Exchange @refresh for an access token (heap), NULL if refused. */
char *fuzz_access_token(struct fuzz_stack *fs, const char *refresh);

#endif
