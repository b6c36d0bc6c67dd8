/*
 * sim_bench - the emulator backend (src/realize/sim.c) at scale (not a test).
 *
 *   build/sim_bench [sessions]      default 100,000
 *
 * Drives a fresh sim backend through its ops, as the engine does during a start-up resync:
 * applies N sessions (policy-based, one tunnel, each its own peer; every 10th route-based with a
 * BGP neighbor in its VTI) with the virtual clock advancing 10 us per apply, then ticks until
 * every session is UP and every neighbor ESTABLISHED, runs 1,000 idle ticks 100 ms apart,
 * re-applies every session with another IKE lifetime (a profile shared by all of them changed),
 * jumps the clock by a day (every SA rekeys), reads every status, and removes everything.
 * Prints the CPU time of each phase (CLOCK_PROCESS_CPUTIME_ID: the machine is shared, and the
 * backend runs on one thread) and the peak RSS, and checks the end states.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/err.h"
#include "core/netaddr.h"
#include "realize/rz.h"
#include "realize/sim.h"

#define SVC "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default/sessions/s"
#define NBS "/infra/tier-0s/vmc/locale-services/default/bgp/neighbors/n"

static double
cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Peak resident set size so far, in MB. */
static double
peak_rss_mb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024;
}

static void
pfx(struct netprefix *p, const char *cidr)
{
	if (!netprefix_parse(cidr, p)) {
		fprintf(stderr, "bad prefix %s\n", cidr);
		exit(1);
	}
}

/* Session @i: 10.x.y.z peer; every 10th route-based with VTI 100.64.0.0/10 + 4i /30. */
static void
sess_build(struct rz_session *s, struct rz_selector *sel, size_t i, int64_t lifetime_s)
{
	char buf[64];

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), SVC "%zu", i);
	s->route_based = i % 10 == 0;
	s->enabled = true;
	snprintf(s->local_address, sizeof(s->local_address), "198.51.100.1");
	snprintf(s->local_id, sizeof(s->local_id), "198.51.100.1");
	snprintf(s->peer_address, sizeof(s->peer_address), "10.%zu.%zu.%zu", (i >> 16) & 255,
		 (i >> 8) & 255, i & 255);
	snprintf(s->peer_id, sizeof(s->peer_id), "%s", s->peer_address);
	snprintf(s->psk, sizeof(s->psk), "sim-bench-psk");
	s->initiation = RZ_INIT_INITIATOR;
	s->ike.version = RZ_IKE_V2;
	s->ike.enc = RZ_ENC_AES_GCM_128;
	s->ike.digest = RZ_DIG_SHA2_256;
	s->ike.dh = RZ_DH(21);
	s->ike.lifetime_s = lifetime_s;
	s->esp.enc = RZ_ENC_AES_GCM_128;
	s->esp.dh = RZ_DH(21);
	s->esp.pfs = true;
	s->esp.lifetime_s = 3600;
	s->dpd.enabled = true;
	s->dpd.periodic = true;
	s->dpd.interval_s = 60;
	s->dpd.retries = 5;
	memset(sel, 0, sizeof(*sel));
	if (s->route_based) {
		uint32_t a = 0x64400000u + (uint32_t)(i / 10) * 4;

		s->has_vti = true;
		snprintf(buf, sizeof(buf), "%u.%u.%u.%u/30", a >> 24, (a >> 16) & 255,
			 (a >> 8) & 255, (a & 255) + 1);
		pfx(&s->vti, buf);
		pfx(&sel->local, "0.0.0.0/0");
		pfx(&sel->peer, "0.0.0.0/0");
	} else {
		pfx(&sel->local, "192.168.98.0/24");
		pfx(&sel->peer, "192.168.123.0/24");
		snprintf(sel->rule_path, sizeof(sel->rule_path), "%.400s/rules/r1", s->path);
	}
	s->ntunnels = 1;
	s->tunnels = sel;
}

static void
nb_build(struct rz_neighbor *n, size_t i)
{
	uint32_t a = 0x64400000u + (uint32_t)(i / 10) * 4 + 2;

	memset(n, 0, sizeof(*n));
	snprintf(n->path, sizeof(n->path), NBS "%zu", i);
	snprintf(n->id, sizeof(n->id), "n%zu", i);
	snprintf(n->addr_text, sizeof(n->addr_text), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
		 (a >> 8) & 255, a & 255);
	netaddr_parse(n->addr_text, &n->addr);
	n->remote_as = 65001;
	snprintf(n->remote_as_text, sizeof(n->remote_as_text), "65001");
	n->local_as = 65000;
	n->enabled = true;
	n->keepalive_s = 60;
	n->hold_s = 180;
}

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "sim_bench: %s\n", what);
		exit(1);
	}
}

/* Every session UP (want_up) and every neighbor ESTABLISHED. */
static void
check_all(struct rz_backend *b, size_t n, const char *phase)
{
	struct rz_session_status st;
	struct rz_bgp_status bs;
	struct rz_session s;
	struct rz_selector sel;
	struct rz_neighbor nb;
	size_t i;

	for (i = 0; i < n; i++) {
		sess_build(&s, &sel, i, 0);
		check(b->ops->session_status(b, s.path, &st) == VPN_OK, "status");
		if (st.ike != RZ_IKE_UP || !st.ntunnels || !st.tunnels[0].up) {
			fprintf(stderr, "sim_bench: %s: session %zu not UP\n", phase, i);
			exit(1);
		}
		rz_session_status_release(&st);
		if (i % 10 == 0) {
			nb_build(&nb, i);
			check(b->ops->bgp_status(b, nb.path, &bs) == VPN_OK, "bgp status");
			if (bs.state != RZ_BGP_ESTABLISHED) {
				fprintf(stderr, "sim_bench: %s: neighbor %zu not ESTABLISHED\n",
					phase, i);
				exit(1);
			}
		}
	}
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, i;
	struct rz_backend *b = sim_backend_new();
	struct rz_session s;
	struct rz_selector sel;
	struct rz_neighbor nb;
	struct vpn_error err;
	int64_t now = 1000000;
	double t0, t;

	check(b != NULL && n > 0, "usage: sim_bench [sessions]");
	printf("sim_bench: %zu sessions (%zu route-based with a BGP neighbor)\n", n, (n + 9) / 10);

	t0 = cpu_ms();
	for (i = 0; i < n; i++) {
		sess_build(&s, &sel, i, 86400);
		check(b->ops->apply_session(b, &s, now + (int64_t)i / 100, &err) == VPN_OK,
		      "apply_session");
	}
	now += (int64_t)n / 100;
	for (i = 0; i < n; i += 10) {
		nb_build(&nb, i);
		check(b->ops->apply_neighbor(b, &nb, now, &err) == VPN_OK, "apply_neighbor");
	}
	t = cpu_ms() - t0;
	printf("  apply %zu sessions + %zu neighbors: %10.1f ms (%.2f us per apply), peak RSS %.0f MB\n",
	       n, (n + 9) / 10, t, t * 1e3 / (double)(n + (n + 9) / 10), peak_rss_mb());

	t0 = cpu_ms();
	for (i = 0; i < 10; i++) {
		now += 100;
		b->ops->tick(b, now);
	}
	t = cpu_ms() - t0;
	printf("  10 ticks (every IKE verdict, BGP up):  %10.1f ms\n", t);
	check_all(b, n, "after start");

	t0 = cpu_ms();
	for (i = 0; i < 1000; i++) {
		now += 100;
		b->ops->tick(b, now);
	}
	t = cpu_ms() - t0;
	printf("  1000 idle ticks:                       %10.1f ms (%.2f us per tick)\n", t,
	       t * 1e3 / 1000);

	t0 = cpu_ms();
	for (i = 0; i < n; i++) {
		sess_build(&s, &sel, i, 28800);
		check(b->ops->apply_session(b, &s, now, &err) == VPN_OK, "re-apply");
	}
	for (i = 0; i < 20; i++) {
		now += 100;
		b->ops->tick(b, now);
	}
	t = cpu_ms() - t0;
	printf("  profile change (re-apply all + 2 s):   %10.1f ms\n", t);
	check_all(b, n, "after the profile change");

	t0 = cpu_ms();
	now += 86400LL * 1000;
	b->ops->tick(b, now);
	t = cpu_ms() - t0;
	printf("  clock jump of a day (3 IKE rekeys each): %10.1f ms\n", t);
	check_all(b, n, "after a day");

	t0 = cpu_ms();
	check_all(b, n, "reads");
	t = cpu_ms() - t0;
	printf("  read every status:                     %10.1f ms\n", t);

	t0 = cpu_ms();
	for (i = 0; i < n; i += 10) {
		nb_build(&nb, i);
		b->ops->remove_neighbor(b, nb.path, now);
	}
	for (i = 0; i < n; i++) {
		sess_build(&s, &sel, i, 0);
		b->ops->remove_session(b, s.path, now);
	}
	t = cpu_ms() - t0;
	printf("  remove everything:                     %10.1f ms\n", t);
	printf("  peak RSS:                              %10.0f MB\n", peak_rss_mb());
	b->ops->destroy(b);
	return 0;
}
