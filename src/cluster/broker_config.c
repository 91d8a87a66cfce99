/*
 * Dynamic broker configs kept in ZooKeeper (cluster/broker_config.h).
 *
 * Must not depend on: src/kafka, src/amqp, src/http.
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/broker_config.h"
#include "cluster/zk.h"
#include "cluster/zkdata.h"
#include "core/dyn_defaults.h"
#include "core/log.h"
#include "core/topics.h"

/* One znode read: which layer.  Embedded: nothing to free. */
struct cnb_read {
	struct cnb *b;
	int layer;
};

/* An alteration out. */
struct cnb_alter {
	struct cnb *b;
	struct cnb_alter *next;
	int layer;
	char *data; /* owned: what is written */
	size_t len;
	tdm_replica_done_fn done;
	void *arg;
};

struct cnb {
	struct zk *zk;             /* borrowed */
	struct tdm_topics *topics; /* borrowed */
	int32_t id;
	struct cnb_read rd[TDM_DYN_LAYERS];
	struct cnb_alter *alters; /* owned */
};

static void cnb_watch(void *ctx, int event, const char *path);

static char *layer_path(const struct cnb *b, int layer, char *buf, size_t size)
{
	return zkd_path_broker_config(buf, size, layer == TDM_DYN_BROKER ? b->id : -1);
}

/* The znode's content (NULL: none) becomes the layer here. */
static void apply(struct cnb *b, int layer, const char *data, size_t len, const char *path)
{
	struct zkd_config c = { 0 };
	struct tdm_kv kv[64];
	char err[256];
	size_t n = 0;

	if (data && len && zkd_config_decode(data, len, &c, err, sizeof(err)) < 0) {
		tdm_log(TDM_LOG_ERROR, "cluster", "%s: bad broker config: %s", path, err);
		return;
	}
	for (size_t i = 0; i < c.n && n < 64; i++) {
		const char *key = tdm_dyn_topic_key(c.keys[i]);
		if (key)
			kv[n++] = (struct tdm_kv){ key, c.values[i] };
		else
			tdm_log(TDM_LOG_WARNING, "cluster", "%s: %s is no dynamic setting here",
				path, c.keys[i]);
	}
	if (tdm_dyn_set(tdm_topics_dyn(b->topics), layer, kv, n, err, sizeof(err)) != TDM_TOPIC_OK)
		tdm_log(TDM_LOG_ERROR, "cluster", "%s: applying the broker config here failed: %s",
			path, err);
	zkd_config_free(&c);
}

static void read_done(void *ctx, const struct zk_result *res)
{
	struct cnb_read *r = ctx;
	char path[ZKD_PATH_MAX];

	if (res->rc == ZK_OK) {
		apply(r->b, r->layer, res->data, res->len, res->path);
	} else if (res->rc == ZK_NONODE && layer_path(r->b, r->layer, path, sizeof(path))) {
		apply(r->b, r->layer, NULL, 0, path);
		/* told when it is made */
		zk_exists(r->b->zk, path, cnb_watch, r->b, NULL, NULL);
	}
}

static void read_layer(struct cnb *b, int layer)
{
	char path[ZKD_PATH_MAX];
	if (layer_path(b, layer, path, sizeof(path)))
		zk_get(b->zk, path, cnb_watch, b, read_done, &b->rd[layer]);
}

static void cnb_watch(void *ctx, int event, const char *path)
{
	(void)event;
	cnb_watch_fired(ctx, path);
}

int cnb_watch_fired(struct cnb *b, const char *path)
{
	char mine[ZKD_PATH_MAX];
	for (int l = 0; l < TDM_DYN_LAYERS; l++)
		if (layer_path(b, l, mine, sizeof(mine)) && !strcmp(path, mine)) {
			read_layer(b, l);
			return 1;
		}
	return 0;
}

void cnb_join(struct cnb *b)
{
	for (int l = 0; l < TDM_DYN_LAYERS; l++)
		read_layer(b, l);
}

struct cnb *cnb_new(struct zk *zk, struct tdm_topics *topics, int32_t id)
{
	struct cnb *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->zk = zk;
	b->topics = topics;
	b->id = id;
	for (int l = 0; l < TDM_DYN_LAYERS; l++)
		b->rd[l] = (struct cnb_read){ b, l };
	return b;
}

/* a's answer: unlinked, told, freed. */
static void alter_end(struct cnb_alter *a, int rc)
{
	struct cnb_alter **pa = &a->b->alters;
	while (*pa && *pa != a)
		pa = &(*pa)->next;
	if (*pa)
		*pa = a->next;
	a->done(a->arg, rc, rc == TDM_TOPIC_OK ? "" : tdm_replica_strerror(rc));
	free(a->data);
	free(a);
}

static void alter_written(void *ctx, const struct zk_result *res)
{
	struct cnb_alter *a = ctx;
	char path[ZKD_PATH_MAX];

	if (res->rc == ZK_NONODE && layer_path(a->b, a->layer, path, sizeof(path)) &&
	    zk_create(a->b->zk, path, a->data, a->len, ZK_PERSISTENT, alter_written, a) == 0)
		return; /* the first value of this layer: made now */
	if (res->rc == ZK_OK)
		apply(a->b, a->layer, a->data, a->len, res->path); /* here at once */
	else
		tdm_log(TDM_LOG_WARNING, "cluster", "ZooKeeper write of %s: %s", res->path,
			zk_strerror(res->rc));
	alter_end(a, res->rc == ZK_OK ? TDM_TOPIC_OK : TDM_REPL_NO_CLUSTER);
}

int cnb_alter(struct cnb *b, int layer, const struct tdm_kv *kv, size_t n, tdm_replica_done_fn done,
	      void *arg)
{
	char *keys[64], *values[64], path[ZKD_PATH_MAX];
	size_t nkv = 0;
	struct cnb_alter *a = calloc(1, sizeof(*a));

	for (size_t i = 0; i < n && nkv < 64; i++)
		if (kv[i].value && tdm_dyn_broker_name(kv[i].name)) {
			keys[nkv] = (char *)tdm_dyn_broker_name(kv[i].name);
			values[nkv++] = (char *)kv[i].value;
		}
	struct zkd_config c = { keys, values, nkv };
	if (!a || !layer_path(b, layer, path, sizeof(path)) ||
	    !(a->data = zkd_config_encode(&c, &a->len)))
		goto fail;
	*a = (struct cnb_alter){ b, b->alters, layer, a->data, a->len, done, arg };
	if (zk_set(b->zk, path, a->data, a->len, -1, alter_written, a) < 0)
		goto fail;
	b->alters = a;
	return 0;
fail:
	if (a)
		free(a->data);
	free(a);
	return TDM_ERR_NOMEM;
}

void cnb_free(struct cnb *b)
{
	if (!b)
		return;
	while (b->alters)
		alter_end(b->alters, TDM_REPL_NO_CLUSTER);
	free(b);
}
