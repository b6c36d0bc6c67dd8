#include "api/views.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

const char *
view_runtime_status(const struct rz_session_status *st)
{
	size_t i, up = 0;

	if (st->ike != RZ_IKE_UP)
		return "DOWN";
	for (i = 0; i < st->ntunnels; i++)
		up += st->tunnels[i].up;
	if (up == 0)
		return "DOWN";
	return up == st->ntunnels ? "UP" : "DEGRADED";
}

static const char *
ike_state(enum rz_ike_state s)
{
	return s == RZ_IKE_UP ? "UP" : s == RZ_IKE_NEGOTIATING ? "NEGOTIATING" : "DOWN";
}

json_t *
view_traffic(const struct rz_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			 "packets_in", (json_int_t)c->packets_in,
			 "packets_out", (json_int_t)c->packets_out,
			 "bytes_in", (json_int_t)c->bytes_in,
			 "bytes_out", (json_int_t)c->bytes_out,
			 "dropped_packets_in", (json_int_t)c->dropped_packets_in,
			 "dropped_packets_out", (json_int_t)c->dropped_packets_out);
}

/* NSX counters are int64: sums saturate at INT64_MAX instead of wrapping negative. */
static void
add_counters(struct rz_counters *a, const struct rz_counters *b)
{
	uint64_t *x = (uint64_t *)a;
	const uint64_t *y = (const uint64_t *)b;
	size_t i;

	for (i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
		x[i] = y[i] > (uint64_t)INT64_MAX - (x[i] > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX
											 : x[i])
		       ? (uint64_t)INT64_MAX : x[i] + y[i];
}

void
view_sum(const struct rz_session_status *st, struct rz_counters *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < st->ntunnels; i++)
		add_counters(out, &st->tunnels[i].c);
}

static json_t *
ike_status(const struct rz_session_status *st)
{
	return json_pack("{s:s, s:s}", "ike_session_state", ike_state(st->ike), "fail_reason",
			 st->fail_reason);
}

json_t *
view_detailed_status(const char *path, const char *display_name,
		     const struct rz_session_status *st)
{
	struct rz_counters sum;
	size_t i, up = 0;

	for (i = 0; i < st->ntunnels; i++)
		up += st->ike == RZ_IKE_UP && st->tunnels[i].up;
	view_sum(st, &sum);
	return json_pack("{s:[{s:s, s:o, s:I, s:I, s:I, s:o, s:I, s:s, s:s, s:s}], s:s}",
			 "results",
			 "runtime_status", view_runtime_status(st),
			 "ike_status", ike_status(st),
			 "total_tunnels", (json_int_t)st->ntunnels,
			 "negotiated_tunnels", (json_int_t)up,
			 "failed_tunnels", (json_int_t)(st->ntunnels - up),
			 "aggregate_traffic_counters", view_traffic(&sum),
			 "last_update_timestamp", (json_int_t)st->last_update_ms,
			 "display_name", display_name,
			 "enforcement_point_path", VIEW_EP_PATH,
			 "resource_type", "IPSecVpnSessionStatusNsxT",
			 "intent_path", path);
}

static json_t *
tunnel_stats(const struct rz_tunnel_status *t, bool ike_up)
{
	char local[64], peer[64], a[48];
	const struct rz_counters *c = &t->c;
	bool up = ike_up && t->up;

	netaddr_format(&t->sel.local.addr, a, sizeof(a));
	snprintf(local, sizeof(local), "%s/%u", a, t->sel.local.len);
	netaddr_format(&t->sel.peer.addr, a, sizeof(a));
	snprintf(peer, sizeof(peer), "%s/%u", a, t->sel.peer.len);
	/* the seed's field order */
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:s, s:s, s:I, s:I}",
			 "tunnel_status", up ? "UP" : "DOWN",
			 "tunnel_down_reason", up ? "" : t->down_reason,
			 "packets_in", (json_int_t)c->packets_in,
			 "packets_out", (json_int_t)c->packets_out,
			 "bytes_in", (json_int_t)c->bytes_in,
			 "bytes_out", (json_int_t)c->bytes_out,
			 "packets_received_other_error", (json_int_t)c->packets_received_other_error,
			 "replay_errors", (json_int_t)c->replay_errors,
			 "integrity_failures", (json_int_t)c->integrity_failures,
			 "decryption_failures", (json_int_t)c->decryption_failures,
			 "packets_sent_other_error", (json_int_t)c->packets_sent_other_error,
			 "seq_number_overflow_error", (json_int_t)c->seq_number_overflow_error,
			 "encryption_failures", (json_int_t)c->encryption_failures,
			 "sa_mismatch_errors_in", (json_int_t)c->sa_mismatch_errors_in,
			 "nomatching_policy_errors", (json_int_t)c->nomatching_policy_errors,
			 "sa_mismatch_errors_out", (json_int_t)c->sa_mismatch_errors_out,
			 "peer_subnet", peer,
			 "local_subnet", local,
			 "dropped_packets_in", (json_int_t)c->dropped_packets_in,
			 "dropped_packets_out", (json_int_t)c->dropped_packets_out);
}

json_t *
view_statistics(const char *path, const char *display_name, bool route_based,
		const char *tunnel_interface_path, const struct rz_session_status *st)
{
	json_t *ps = json_array(), *entry = NULL, *tunnels = NULL;
	struct rz_counters sum, group;
	const char *cur_rule = NULL;
	size_t i;

	if (!ps)
		return NULL;
	memset(&group, 0, sizeof(group));
	for (i = 0; i < st->ntunnels; i++) {
		const struct rz_tunnel_status *t = &st->tunnels[i];

		/* a new group: per rule (policy-based) or the one tunnel interface */
		if (!entry || (!route_based && strcmp(cur_rule, t->sel.rule_path))) {
			if (entry) {
				json_object_set_new(entry, "aggregate_traffic_counters",
						    view_traffic(&group));
				json_array_append_new(ps, entry);
			}
			memset(&group, 0, sizeof(group));
			tunnels = json_array();
			entry = route_based ?
				json_pack("{s:s, s:o}", "tunnel_interface_path",
					  tunnel_interface_path, "tunnel_statistics", tunnels) :
				json_pack("{s:s, s:o}", "rule_path", t->sel.rule_path,
					  "tunnel_statistics", tunnels);
			cur_rule = t->sel.rule_path;
			if (!entry)
				break;
		}
		json_array_append_new(tunnels, tunnel_stats(t, st->ike == RZ_IKE_UP));
		add_counters(&group, &t->c);
	}
	if (entry) {
		json_object_set_new(entry, "aggregate_traffic_counters", view_traffic(&group));
		json_array_append_new(ps, entry);
	}
	view_sum(st, &sum);
	return json_pack("{s:[{s:o, s:o, s:o, s:I, s:s, s:s, s:s}], s:s}",
			 "results",
			 "ike_status", ike_status(st),
			 "policy_statistics", ps,
			 "aggregate_traffic_counters", view_traffic(&sum),
			 "last_update_timestamp", (json_int_t)st->last_update_ms,
			 "display_name", display_name,
			 "enforcement_point_path", VIEW_EP_PATH,
			 "resource_type", "IPSecVpnSessionStatisticsNsxT",
			 "intent_path", path);
}

json_t *
view_bgp_status(const char *neighbor_address, const char *remote_as,
		const struct rz_bgp_status *st)
{
	/* the seed's sample, field by field (keep_alive_interval and hold_time in seconds there) */
	return json_pack("{s:s, s:i, s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I,"
			 " s:[{s:s, s:I, s:I}], s:I, s:I, s:I, s:I, s:s, s:[], s:[], s:s, s:s,"
			 " s:I}",
			 "source_address", st->source_address,
			 "local_port", st->state == RZ_BGP_ESTABLISHED ? 179 : 0,
			 "neighbor_address", neighbor_address,
			 "remote_port", 0,
			 "remote_as_number", remote_as,
			 "connection_state", rz_bgp_state_name(st->state),
			 "messages_received", (json_int_t)st->messages_received,
			 "messages_sent", (json_int_t)st->messages_sent,
			 "time_since_established", (json_int_t)st->time_since_established_s,
			 "total_in_prefix_count", (json_int_t)st->in_prefix_count,
			 "total_out_prefix_count", (json_int_t)st->out_prefix_count,
			 "address_families",
			 "type", "IPV4_UNICAST",
			 "in_prefix_count", (json_int_t)st->in_prefix_count,
			 "out_prefix_count", (json_int_t)st->out_prefix_count,
			 "connection_drop_count", (json_int_t)st->connection_drop_count,
			 "established_connection_count", (json_int_t)st->established_connection_count,
			 "hold_time", (json_int_t)st->hold_time_s,
			 "keep_alive_interval", (json_int_t)st->keepalive_s,
			 "graceful_restart_mode", "HELPER_ONLY",
			 "announced_capabilities",
			 "negotiated_capability",
			 "neighbor_router_id", st->neighbor_router_id[0] ? st->neighbor_router_id
									 : "0.0.0.0",
			 "tier0_path", "/infra/tier-0s/vmc",
			 "last_update_timestamp", (json_int_t)st->last_update_ms);
}

static json_t *
route_json(const struct rz_route *r)
{
	char a[48], net[64];

	netaddr_format(&r->net.addr, a, sizeof(a));
	snprintf(net, sizeof(net), "%s/%u", a, r->net.len);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "network", net, "next_hop", r->next_hop,
			 "as_path", r->as_path, "local_pref", (json_int_t)r->local_pref,
			 "med", (json_int_t)r->med, "weight", (json_int_t)r->weight);
}

json_t *
view_routes(const char *neighbor_path, const char *const *edges, size_t nedges,
	    const char *source_address, const struct rz_route *r, size_t n)
{
	json_t *per = json_array(), *res;
	size_t e, i;

	for (e = 0; per && e < nedges; e++) {
		json_t *routes = json_array();

		/* active/standby: the standby edge holds no BGP session, so no routes */
		for (i = 0; e == 0 && routes && i < n; i++)
			json_array_append_new(routes, route_json(&r[i]));
		json_array_append_new(per, json_pack("{s:s, s:s, s:o}", "transport_node_id",
						     edges[e], "source_address",
						     e == 0 ? source_address : "", "routes",
						     routes ? routes : json_array()));
	}
	if (!per)
		return NULL;
	/* NSX fills both, the second under its historical misspelling */
	res = json_pack("{s:s, s:s, s:O, s:O}", "neighbor_path", neighbor_path,
			"enforcement_point_path", VIEW_EP_PATH, "edge_node_routes", per,
			"egde_node_routes", per);
	json_decref(per);
	return json_pack("{s:[o], s:i}", "results", res, "result_count", 1);
}

/* One CSV field: quoted when it holds a comma, quote, CR or LF (RFC 4180). */
static enum vpn_err
csv_field(struct buf *b, const char *v, bool last)
{
	enum vpn_err rc = VPN_OK;

	if (strpbrk(v, ",\"\r\n")) {
		const char *p;

		rc = buf_add(b, "\"", 1);
		for (p = v; !rc && *p; p++)
			rc = *p == '"' ? buf_add(b, "\"\"", 2) : buf_add(b, p, 1);
		if (!rc)
			rc = buf_add(b, "\"", 1);
	} else {
		rc = buf_adds(b, v);
	}
	if (!rc)
		rc = last ? buf_add(b, "\r\n", 2) : buf_add(b, ",", 1);
	return rc;
}

char *
view_routes_csv(const char *neighbor_address, const char *neighbor_id,
		const char *logical_router_id, const char *const *edges, size_t nedges,
		const char *source_address, const struct rz_route *r, size_t n, size_t *len)
{
	static const char header[] = "as_path,local_pref,logical_router_id,med,neighbor_address,"
				     "neighbor_id,network,next_hop,source_address,"
				     "transport_node_id,weight\r\n";
	struct buf b;
	enum vpn_err rc;
	size_t i;

	(void)nedges;
	buf_init(&b, (size_t)256 << 20);
	rc = buf_adds(&b, header);
	/* routes live on the active edge (the first) only */
	for (i = 0; !rc && i < n; i++) {
		char a[48], net[64], lp[24], med[24], w[24];

		netaddr_format(&r[i].net.addr, a, sizeof(a));
		snprintf(net, sizeof(net), "%s/%u", a, r[i].net.len);
		snprintf(lp, sizeof(lp), "%" PRId64, r[i].local_pref);
		snprintf(med, sizeof(med), "%" PRId64, r[i].med);
		snprintf(w, sizeof(w), "%" PRId64, r[i].weight);
		rc = csv_field(&b, r[i].as_path, false);
		if (!rc) rc = csv_field(&b, lp, false);
		if (!rc) rc = csv_field(&b, logical_router_id, false);
		if (!rc) rc = csv_field(&b, med, false);
		if (!rc) rc = csv_field(&b, neighbor_address, false);
		if (!rc) rc = csv_field(&b, neighbor_id, false);
		if (!rc) rc = csv_field(&b, net, false);
		if (!rc) rc = csv_field(&b, r[i].next_hop, false);
		if (!rc) rc = csv_field(&b, source_address, false);
		if (!rc) rc = csv_field(&b, nedges ? edges[0] : "", false);
		if (!rc) rc = csv_field(&b, w, true);
	}
	if (rc) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, len);
}

json_t *
view_realized(const char *path, const struct rz_realized_state *rs)
{
	const char *cs = rs->state == RZ_REALIZED ? "SUCCESS" :
			 rs->state == RZ_ERROR ? "ERROR" :
			 rs->state == RZ_IN_PROGRESS ? "IN_PROGRESS" : "UNKNOWN";
	const char *ps = rs->state == RZ_REALIZED ? "REALIZED" :
			 rs->state == RZ_ERROR ? "ERROR" : "UNREALIZED";
	char ver[32];
	json_t *per, *o;

	snprintf(ver, sizeof(ver), "%" PRId64, rs->intent_revision);
	per = json_pack("{s:s, s:{s:s}, s:s, s:s}", "resource_type", "ConsolidatedStatusNsxT",
			"consolidated_status", "consolidated_status", cs,
			"enforcement_point_id", VIEW_EP_ID, "enforcement_point_path", VIEW_EP_PATH);
	if (per && rs->state == RZ_ERROR)
		json_object_set_new(per, "alarm",
				    json_pack("{s:s, s:s}", "error_id", "REALIZATION_ERROR",
					      "message", rs->error));
	o = json_pack("{s:{s:s}, s:[o], s:s, s:s, s:s}", "consolidated_status",
		      "consolidated_status", cs, "consolidated_status_per_enforcement_point", per,
		      "intent_path", path, "intent_version", ver, "publish_status", ps);
	if (o && rs->state == RZ_ERROR)
		json_object_set_new(o, "error", json_string(rs->error));
	return o;
}
