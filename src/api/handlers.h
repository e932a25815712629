/*
 * handlers.h — the Docker API endpoints, one registration function per area.
 * berthd calls each with the server and the engine; the handlers translate
 * HTTP to engine calls and engine errors to Docker's status codes.
 *
 * Never: put engine logic in a handler; a handler parses, calls, renders.
 */
#ifndef BERTH_API_HANDLERS_H
#define BERTH_API_HANDLERS_H

#include "engine/engine.h"
#include "server.h"

/* /_ping, /version, /info */
void api_register_system(struct api_server *srv, struct berth_engine *engine);

/* /images/json, /images/{name}/json, /images/{name}/tag, DELETE /images/{name}, /images/prune */
void api_register_images(struct api_server *srv, struct berth_engine *engine);

/* GET /images/get, GET /images/{name}/get, POST /images/load (archive.c); needs engine->layers */
void api_register_archive(struct api_server *srv, struct berth_engine *engine);

/* POST /auth (checks credentials on a worker thread) */
void api_register_auth(struct api_server *srv, struct berth_engine *engine);

/* GET /events (streams from a worker thread) */
void api_register_events(struct api_server *srv, struct berth_engine *engine);

/* /containers/… and /exec/… (containers.c) */
void api_register_containers(struct api_server *srv, struct berth_engine *engine);

/* HEAD|GET|PUT /containers/{id}/archive, GET /containers/{id}/export and
 * /changes (archive-container.c) */
void api_register_container_archive(struct api_server *srv, struct berth_engine *engine);

/* POST /commit (commit.c) */
void api_register_commit(struct api_server *srv, struct berth_engine *engine);
/* POST /images/create?fromSrc= (commit.c), called by images.c's /images/create */
void api_image_import(struct api_request *req, struct berth_engine *engine);

/* /volumes (volumes.c) */
void api_register_volumes(struct api_server *srv, struct berth_engine *engine);

/* POST /networks/prune (networks.c; no networks yet) */
void api_register_networks(struct api_server *srv, struct berth_engine *engine);

/* POST /build/prune (build.c; no build cache yet) */
void api_register_build(struct api_server *srv, struct berth_engine *engine);

/* The JSON bodies of /version and /info (exposed for tests). */
struct json *api_system_version_json(struct berth_engine *engine);
struct json *api_system_info_json(struct berth_engine *engine);

#endif
