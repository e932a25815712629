/*
 * networks.h — docker's networks: the predefined `bridge`, `host` and `none`,
 * user-defined bridge networks, and what a container's start, exit and
 * connect/disconnect need of them (an address, a veth into its namespace, a
 * default route, published ports, name resolution).
 *
 * Records: a network is one row of berth.db (id, name, created, its inspect
 * document); the `bridge`, `host` and `none` rows are made at the first start.
 * A bridge network is a Linux bridge (berth0 for the default one, br-<id12>
 * for the others, or the com.docker.network.bridge.name option) holding the
 * gateway address of each subnet, plus the rules of net/firewall.h for it.
 * Bridges stay when berthd stops (live containers use them), as docker0 does.
 *
 * Containers: an endpoint (address, MAC, interface names, published ports) is
 * chosen before the runtime spec is written (/etc/hosts names the address),
 * wired into a network namespace berthd makes for it, while the runtime makes
 * the container that joins it and before it runs (ctr_net_wire_begin/end:
 * veth into the namespace, address, routes, ports), and released when it
 * exits.  The interfaces go with the namespace: nothing is deleted on the exit
 * path; the kernel frees the pair when the last process of the namespace is
 * gone.  What a running container holds is saved with its
 * state (ctr_state_json "Net"), so a restarted berthd claims the same addresses
 * and re-adds its ports and rules (ctr_net_restore).
 *
 * Locks: the networks lock is taken before the container table's lock, never
 * the other way round.
 *
 * Errors by errno as the API maps them: -ENOENT 404, -EINVAL 400, -EEXIST 409,
 * -EPERM 403; messages in dockerd's words.
 *
 * Never: hand out an address twice, pick a subnet the host already routes, or
 * leave a published port's rule or reservation after the container exited.
 */
#ifndef BERTH_ENGINE_NETWORKS_H
#define BERTH_ENGINE_NETWORKS_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/json.h"
#include "engine.h"

struct berth_networks;
struct berth_ctr;

/* Sets e->networks: loads the records, sets up every bridge and the firewall table. */
int berth_networks_open(struct berth_engine *e, struct berth_error **err);
/* At daemon stop; remove_rules: no container runs any more, the firewall table can go. */
void berth_networks_close(struct berth_engine *e, bool remove_rules);

/* POST /networks/create: *ret is {"Id", "Warning"}. */
int berth_network_create(struct berth_engine *e, const struct json *body, struct json **ret,
                         struct berth_error **err);
/* GET /networks/{id}: by full id, name, or unique id prefix. */
int berth_network_inspect(struct berth_engine *e, const char *ref, struct json **ret,
                          struct berth_error **err);
/* GET /networks: every network's document (Containers empty, as dockerd's list). */
struct json *berth_network_list(struct berth_engine *e);
/* DELETE /networks/{id}. */
int berth_network_remove(struct berth_engine *e, const char *ref, struct berth_error **err);
/* POST /networks/prune: removes unused user networks keep() accepts; names of the removed. */
int berth_network_prune(struct berth_engine *e,
                        bool (*keep)(const struct json *doc, void *arg), void *arg,
                        struct json **ret_deleted, struct berth_error **err);
/* POST /networks/{id}/connect and disconnect. */
int berth_network_connect(struct berth_engine *e, const char *net, const char *ctr,
                          const struct json *endpoint_config, struct berth_error **err);
int berth_network_disconnect(struct berth_engine *e, const char *net, const char *ctr, bool force,
                             struct berth_error **err);

/* ---- for the containers (engine-internal) ---- */

/* Check HostConfig.NetworkMode and NetworkingConfig at create; fills "default". */
int ctr_net_check_create(struct berth_engine *e, struct json *host_config,
                         struct json *networking, struct berth_error **err);
/* Before the spec: choose addresses and reserve published host ports (c->net). */
int ctr_net_prepare(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err);
/*
 * Wiring c's network namespace, from before its spec is written until before
 * it runs: begin starts a thread that makes the namespace, then wires veths,
 * addresses, routes and port rules into it while the shim and runtime make the
 * container; ctr_net_wire_path waits for the namespace alone and gives the
 * path the spec's network namespace joins (valid until end).  *ret stays NULL when there is nothing
 * to wire (host, container:, none, no networks): the runtime makes the
 * namespace, loopback up, itself.  end waits for the wiring and adds the
 * embedded DNS server; with wanted false (the start failed) it only waits and
 * lets go.  Every begin that set *ret is ended.
 */
struct ctr_net_wiring;
int ctr_net_wire_begin(struct berth_engine *e, struct berth_ctr *c, struct ctr_net_wiring **ret,
                       struct berth_error **err);
int ctr_net_wire_path(struct ctr_net_wiring *w, const char **ret, struct berth_error **err);
/* Wait for the wiring alone (the namespace stays ours until end). */
int ctr_net_wire_wait(struct ctr_net_wiring *w, struct berth_error **err);
int ctr_net_wire_end(struct berth_engine *e, struct berth_ctr *c, struct ctr_net_wiring *w,
                     bool wanted, struct berth_error **err);
/* The container is gone (exit, failed start): give back addresses, ports, rules. */
void ctr_net_release(struct berth_engine *e, struct berth_ctr *c);
/* A running container found at daemon start: claim what c->net records. */
void ctr_net_restore(struct berth_engine *e, struct berth_ctr *c);
/* /etc/hosts lines for c's addresses and /etc/resolv.conf nameserver override. */
void ctr_net_hosts_lines(struct berth_engine *e, struct berth_ctr *c, const char *hostname,
                         struct berth_buf *b);
/* Whether c's resolv.conf points at the embedded DNS server (on a user network). */
bool ctr_net_uses_dns(struct berth_engine *e, struct berth_ctr *c);
/*
 * Legacy --link (HostConfig.Links): /etc/hosts lines into hosts and dockerd's
 * <ALIAS>_NAME, _PORT…, _ENV_… variables into env (either may be NULL); a
 * linked container must run and share a network with c.
 */
int ctr_net_links(struct berth_engine *e, struct berth_ctr *c, struct berth_buf *hosts,
                  struct json *env, struct berth_error **err);
/* --add-host's "host-gateway": the default bridge's gateway; -ENOENT without one. */
int ctr_net_host_gateway(struct berth_engine *e, char out[64]);
/* c was renamed from old: the networks' Containers and the embedded DNS use the new name. */
void ctr_net_renamed(struct berth_engine *e, struct berth_ctr *c, const char *old);
/* NetworkSettings for inspect and the ps summary (under the container table lock). */
struct json *ctr_net_settings_json(struct berth_ctr *c, bool summary);
/* ps's Ports (under the container table lock). */
struct json *ctr_net_ports_summary(struct berth_ctr *c);

#endif
