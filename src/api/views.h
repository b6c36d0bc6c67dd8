/*
 * views.h - NSX runtime documents built from the realization engine's observed state: the
 * seed's detailed-status, statistics, BGP neighbor status and routes (JSON and CSV), the VPN
 * service summary and realized state. Pure functions: data in, jansson values out.
 */
#ifndef VPND_VIEWS_H
#define VPND_VIEWS_H

#include <jansson.h>
#include <stdbool.h>

#include "realize/rz.h"

#define VIEW_EP_PATH "/infra/sites/default/enforcement-points/vmc-enforcementpoint"
#define VIEW_EP_ID "vmc-enforcementpoint"

/* UP / DOWN / DEGRADED from IKE and the tunnels (NSX: "If IKE and all tunnels are UP status
 * will be UP, if all down it will be DOWN, otherwise it will be DEGRADED"). */
const char *view_runtime_status(const struct rz_session_status *st);

/* {packets_in, packets_out, bytes_in, bytes_out, dropped_packets_in, dropped_packets_out} */
json_t *view_traffic(const struct rz_counters *c);
/* Sum of every tunnel's counters. */
void view_sum(const struct rz_session_status *st, struct rz_counters *out);

/* AggregateIPSecVpnSessionStatus for @path. */
json_t *view_detailed_status(const char *path, const char *display_name,
			     const struct rz_session_status *st);
/* AggregateIPSecVpnSessionStatistics: policy_statistics per tunnel interface (route-based) or
 * per rule (policy-based), each with its tunnels. */
json_t *view_statistics(const char *path, const char *display_name, bool route_based,
			const char *tunnel_interface_path, const struct rz_session_status *st);

/* One PolicyBgpNeighborStatus. */
json_t *view_bgp_status(const char *neighbor_address, const char *remote_as,
			const struct rz_bgp_status *st);

/* BgpNeighborRoutes for one neighbor: one entry per edge node (@edges, @nedges), the routes on
 * the active one (index 0). */
json_t *view_routes(const char *neighbor_path, const char *const *edges, size_t nedges,
		    const char *source_address, const struct rz_route *r, size_t n);
/* The same as CSV text (header + one record per route and edge), columns of
 * BgpNeighborRouteDetailsCsvRecord. Caller frees. */
char *view_routes_csv(const char *neighbor_address, const char *neighbor_id,
		      const char *logical_router_id, const char *const *edges, size_t nedges,
		      const char *source_address, const struct rz_route *r, size_t n, size_t *len);

/* ConsolidatedRealizedStatus for @path. */
json_t *view_realized(const char *path, const struct rz_realized_state *rs);

#endif
