/*
 * The admin calls of any node (controller.h): create a topic, delete one,
 * add partitions, as Kafka's AdminZkClient: each a small state machine of
 * ZooKeeper calls (struct ctlr_admin, its step the next answer expected).
 *
 * Must not depend on: the protocol front ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/controller_internal.h"
#include "core/log.h"

enum admin_kind { ADMIN_CREATE, ADMIN_DELETE, ADMIN_PARTITIONS };

struct ctlr_admin {
	struct tdm_controller *c;
	enum admin_kind kind;
	int step;
	char *name; /* owned */
	int32_t partitions, rf, total;
	struct ctl_assignment asg; /* owned: explicit, then the one to write */
	bool explicit_asg, validate_only;
	struct zkd_config cfg;     /* owned */
	struct zkd_topic existing; /* owned: create partitions */
	int32_t version;           /* of /brokers/topics/T */
	int tries;
	int fail_err;   /* admin_fail_later's */
	char *fail_msg; /* owned */
	ctlr_done_fn done;
	void *ctx;
	struct ctlr_admin *prev, *next;
};

/* ---- admin ----------------------------------------------------------- */

void ctlr_admin_free(struct ctlr_admin *a)
{
	struct tdm_controller *c = a->c;

	if (a->prev)
		a->prev->next = a->next;
	else
		c->admins = a->next;
	if (a->next)
		a->next->prev = a->prev;
	ctl_assignment_free(&a->asg);
	zkd_config_free(&a->cfg);
	zkd_topic_free(&a->existing);
	free(a->fail_msg);
	free(a->name);
	free(a);
}

static void admin_finish(struct ctlr_admin *a, int err, const char *msg)
{
	if (a->done)
		a->done(a->ctx, err, msg);
	ctlr_admin_free(a);
}

static void admin_zk_failed(struct ctlr_admin *a, const char *what, int rc)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "ZooKeeper failed %s: %s", what, zk_strerror(rc));
	admin_finish(a, CTL_ERR_UNKNOWN_SERVER, msg);
}

static void admin_step(void *ctx, const struct zk_result *res);

/* Issues the admin's next ZooKeeper call (its completion comes back to
 * admin_step); on out of memory finishes the admin. */
enum admin_call { CALL_GET, CALL_EXISTS, CALL_CHILDREN, CALL_CREATE, CALL_SET, CALL_ENSURE };
static void admin_call(struct ctlr_admin *a, enum admin_call call, const char *path,
		       const char *data, size_t len, int32_t version)
{
	struct tdm_controller *c = a->c;
	struct ctlr_op *op = ctlr_op_new(c, NULL, 0);
	int rc = -1;

	if (op) {
		op->admin = a;
		switch (call) {
		case CALL_GET:
			rc = zk_get(c->zk, path, NULL, NULL, admin_step, op);
			break;
		case CALL_EXISTS:
			rc = zk_exists(c->zk, path, NULL, NULL, admin_step, op);
			break;
		case CALL_CHILDREN:
			rc = zk_get_children(c->zk, path, NULL, NULL, admin_step, op);
			break;
		case CALL_CREATE:
			rc = zk_create(c->zk, path, data, len, ZK_PERSISTENT, admin_step, op);
			break;
		case CALL_SET:
			rc = zk_set(c->zk, path, data, len, version, admin_step, op);
			break;
		case CALL_ENSURE:
			rc = zk_ensure_path(c->zk, path, admin_step, op);
			break;
		}
	}
	if (rc) {
		if (op)
			ctlr_op_end(op);
		admin_finish(a, CTL_ERR_NOMEM, "out of memory");
	}
}

/* Kafka's Topic.validate: the name becomes a znode and a directory. */
static int topic_name_check(const char *name, char *msg, size_t len)
{
	size_t i, n = strlen(name);

	if (n == 0) {
		snprintf(msg, len, "Topic name is illegal, it can't be empty");
		return CTL_ERR_INVALID_TOPIC;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(msg, len, "Topic name cannot be \".\" or \"..\"");
		return CTL_ERR_INVALID_TOPIC;
	}
	if (n > 249) {
		snprintf(msg, len,
			 "Topic name is illegal, it can't be longer than 249 characters, topic "
			 "name: %.64s...",
			 name);
		return CTL_ERR_INVALID_TOPIC;
	}
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')) {
			snprintf(msg, len,
				 "Topic name \"%s\" is illegal, it contains a character other than "
				 "ASCII alphanumerics, '.', '_' and '-'",
				 name);
			return CTL_ERR_INVALID_TOPIC;
		}
	}
	return 0;
}

/* The live broker ids of a get_children answer into b (owned ids). */
static int brokers_of(const struct zk_result *res, struct ctl_brokers *b)
{
	size_t i;

	b->n = 0;
	b->ids = malloc((res->nchildren ? res->nchildren : 1) * sizeof(*b->ids));
	if (!b->ids)
		return CTL_ERR_NOMEM;
	for (i = 0; i < res->nchildren; i++)
		if (zkd_parse_id(res->children[i], &b->ids[b->n]) == 0)
			b->n++;
	ctl_brokers_sort(b);
	return 0;
}

/* a->asg as the /brokers/topics/T znode (existing partitions first). */
static char *topic_encode(const struct zkd_topic *existing, const struct ctl_assignment *more,
			  size_t *len)
{
	struct zkd_topic t;
	size_t i;
	char *data;

	t.npartitions = existing->npartitions + more->nparts;
	t.partitions = calloc(t.npartitions ? t.npartitions : 1, sizeof(*t.partitions));
	if (!t.partitions)
		return NULL;
	memcpy(t.topic_id, existing->topic_id, sizeof(t.topic_id));
	for (i = 0; i < existing->npartitions; i++)
		t.partitions[i] = existing->partitions[i];
	for (i = 0; i < more->nparts; i++) {
		t.partitions[existing->npartitions + i].replicas = more->parts[i].ids;
		t.partitions[existing->npartitions + i].nreplicas = more->parts[i].n;
	}
	data = zkd_topic_encode(&t, len);
	free(t.partitions); /* the arrays are borrowed */
	return data;
}

/* Create topic: 0 live brokers, 1 topic exists?, 2 marked for deletion?,
 * 3 /config/topics made, 4 config created, 5 config set, 6 /brokers/topics
 * made, 7 topic created. */
static void create_step(struct ctlr_admin *a, const struct zk_result *res)
{
	char path[ZKD_PATH_MAX], msg[512], *data;
	struct ctl_brokers live = { NULL, 0 };
	struct zkd_topic none = { NULL, 0, "" };
	size_t len;
	int rc;

	switch (a->step++) {
	case 0:
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "listing the brokers", res->rc);
		if (brokers_of(res, &live))
			return admin_finish(a, CTL_ERR_NOMEM, "out of memory");
		if (a->explicit_asg)
			rc = ctl_validate_assignment(&a->asg, &live, -1, msg, sizeof(msg));
		else if ((rc = ctl_assign(&live, a->partitions, a->rf, -1, 0, &a->asg)) != 0)
			snprintf(msg, sizeof(msg),
				 rc == CTL_ERR_INVALID_PARTITIONS
					 ? "Number of partitions must be larger than 0."
				 : a->rf <= 0 ? "Replication factor must be larger than 0."
					      : "Replication factor: %d larger than available "
						"brokers: %zu.",
				 (int)a->rf, live.n);
		free(live.ids);
		if (rc)
			return admin_finish(a, rc, msg);
		return admin_call(a, CALL_EXISTS, zkd_path_topic(path, sizeof(path), a->name), NULL,
				  0, -1);
	case 1:
		if (res->rc == ZK_OK) {
			snprintf(msg, sizeof(msg), "Topic '%s' already exists.", a->name);
			return admin_finish(a, CTL_ERR_TOPIC_EXISTS, msg);
		}
		if (res->rc != ZK_NONODE)
			return admin_zk_failed(a, "reading the topic", res->rc);
		return admin_call(a, CALL_EXISTS,
				  zkd_path_delete_topic(path, sizeof(path), a->name), NULL, 0, -1);
	case 2:
		if (res->rc == ZK_OK) {
			snprintf(msg, sizeof(msg), "Topic \"%s\" is marked for deletion.", a->name);
			return admin_finish(a, CTL_ERR_TOPIC_EXISTS, msg);
		}
		if (res->rc != ZK_NONODE)
			return admin_zk_failed(a, "reading the deletions", res->rc);
		if (a->validate_only)
			return admin_finish(a, 0, NULL);
		return admin_call(a, CALL_ENSURE, ZKD_CONFIG_TOPICS, NULL, 0, -1);
	case 3:
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "making " ZKD_CONFIG_TOPICS, res->rc);
		data = zkd_config_encode(&a->cfg, &len);
		if (!data)
			return admin_finish(a, CTL_ERR_NOMEM, "out of memory");
		admin_call(a, CALL_CREATE, zkd_path_topic_config(path, sizeof(path), a->name), data,
			   len, -1);
		free(data);
		return;
	case 4:
		if (res->rc == ZK_NODEEXISTS) { /* a leftover: set it (setOrCreateEntityConfigs) */
			data = zkd_config_encode(&a->cfg, &len);
			if (!data)
				return admin_finish(a, CTL_ERR_NOMEM, "out of memory");
			admin_call(a, CALL_SET, zkd_path_topic_config(path, sizeof(path), a->name),
				   data, len, -1);
			free(data);
			return;
		}
		a->step++;
		/* fall through */
	case 5:
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "writing the topic's config", res->rc);
		return admin_call(a, CALL_ENSURE, ZKD_BROKERS_TOPICS, NULL, 0, -1);
	case 6:
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "making " ZKD_BROKERS_TOPICS, res->rc);
		/* a new topic, a new id: a node that still has a log of an
		 * earlier topic of this name will not take it for this one */
		if (zkd_topic_id_new(none.topic_id) < 0)
			return admin_finish(a, CTL_ERR_UNKNOWN_SERVER, "no randomness for the topic id");
		data = topic_encode(&none, &a->asg, &len);
		if (!data)
			return admin_finish(a, CTL_ERR_NOMEM, "out of memory");
		admin_call(a, CALL_CREATE, zkd_path_topic(path, sizeof(path), a->name), data, len,
			   -1);
		free(data);
		return;
	default:
		if (res->rc == ZK_NODEEXISTS) {
			snprintf(msg, sizeof(msg), "Topic '%s' already exists.", a->name);
			return admin_finish(a, CTL_ERR_TOPIC_EXISTS, msg);
		}
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "writing the topic", res->rc);
		tdm_info(SUB, "topic %s created: %zu partitions", a->name, a->asg.nparts);
		return admin_finish(a, 0, NULL);
	}
}

/* Delete topic: 0 exists?, 1 /admin/delete_topics made, 2 request made. */
static void delete_step(struct ctlr_admin *a, const struct zk_result *res)
{
	char path[ZKD_PATH_MAX], msg[300];

	switch (a->step++) {
	case 0:
		if (res->rc == ZK_NONODE) {
			snprintf(msg, sizeof(msg), "Topic `%s` to delete does not exist", a->name);
			return admin_finish(a, CTL_ERR_UNKNOWN_TOPIC, msg);
		}
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "reading the topic", res->rc);
		return admin_call(a, CALL_ENSURE, ZKD_ADMIN_DELETE_TOPICS, NULL, 0, -1);
	case 1:
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "making " ZKD_ADMIN_DELETE_TOPICS, res->rc);
		return admin_call(a, CALL_CREATE,
				  zkd_path_delete_topic(path, sizeof(path), a->name), NULL, 0, -1);
	default:
		/* marked already: Kafka swallows TopicAlreadyMarkedForDeletion */
		if (res->rc != ZK_OK && res->rc != ZK_NODEEXISTS)
			return admin_zk_failed(a, "marking the topic for deletion", res->rc);
		tdm_info(SUB, "topic %s marked for deletion", a->name);
		return admin_finish(a, 0, NULL);
	}
}

/* Create partitions: 0 the topic read, 1 marked for deletion?, 2 live
 * brokers, 3 topic written (compare-and-set; a conflict starts over). */
static void partitions_step(struct ctlr_admin *a, const struct zk_result *res)
{
	char path[ZKD_PATH_MAX], msg[512], *data;
	struct ctl_brokers live = { NULL, 0 };
	size_t len, have;
	int rc;

	switch (a->step++) {
	case 0:
		if (res->rc == ZK_NONODE) {
			snprintf(msg, sizeof(msg), "The topic '%s' does not exist.", a->name);
			return admin_finish(a, CTL_ERR_UNKNOWN_TOPIC, msg);
		}
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "reading the topic", res->rc);
		zkd_topic_free(&a->existing);
		if (zkd_topic_decode(res->data ? res->data : "", res->len, &a->existing, msg,
				     sizeof(msg)))
			return admin_finish(a, CTL_ERR_UNKNOWN_SERVER, msg);
		a->version = res->stat ? res->stat->version : -1;
		return admin_call(a, CALL_EXISTS,
				  zkd_path_delete_topic(path, sizeof(path), a->name), NULL, 0, -1);
	case 1:
		if (res->rc == ZK_OK) {
			snprintf(msg, sizeof(msg), "The topic %s is queued for deletion.", a->name);
			return admin_finish(a, CTL_ERR_INVALID_TOPIC, msg);
		}
		return admin_call(a, CALL_CHILDREN, ZKD_BROKERS_IDS, NULL, 0, -1);
	case 2:
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "listing the brokers", res->rc);
		have = a->existing.npartitions;
		if (a->total <= 0 || (size_t)a->total <= have) {
			snprintf(
				msg, sizeof(msg),
				(size_t)a->total == have
					? "Topic already has %zu partitions."
					: "Topic currently has %zu partitions, which is higher than "
					  "the requested %d.",
				have, (int)a->total);
			return admin_finish(a, CTL_ERR_INVALID_PARTITIONS, msg);
		}
		if (brokers_of(res, &live))
			return admin_finish(a, CTL_ERR_NOMEM, "out of memory");
		if (a->explicit_asg) {
			if (a->asg.nparts != (size_t)a->total - have) {
				snprintf(msg, sizeof(msg),
					 "Increasing the number of partitions by %zu but %zu "
					 "assignments provided.",
					 (size_t)a->total - have, a->asg.nparts);
				rc = CTL_ERR_INVALID_REPLICA_ASSIGNMENT;
			} else {
				rc = ctl_validate_assignment(
					&a->asg, &live,
					have ? (int32_t)a->existing.partitions[0].nreplicas : -1,
					msg, sizeof(msg));
			}
		} else {
			struct ctl_assignment cur = { NULL, have };
			size_t i;

			ctl_assignment_free(&a->asg);
			cur.parts = calloc(have ? have : 1, sizeof(*cur.parts));
			if (!cur.parts) {
				free(live.ids);
				return admin_finish(a, CTL_ERR_NOMEM, "out of memory");
			}
			for (i = 0; i < have; i++) {
				cur.parts[i].ids = a->existing.partitions[i].replicas;
				cur.parts[i].n = a->existing.partitions[i].nreplicas;
			}
			rc = ctl_assign_more(&live, &cur, a->total, &a->asg);
			free(cur.parts); /* the arrays are borrowed */
			snprintf(msg, sizeof(msg),
				 "Replication factor: %zu larger than available brokers: %zu.",
				 have ? a->existing.partitions[0].nreplicas : 0, live.n);
		}
		free(live.ids);
		if (rc)
			return admin_finish(a, rc, msg);
		if (a->validate_only)
			return admin_finish(a, 0, NULL);
		data = topic_encode(&a->existing, &a->asg, &len);
		if (!data)
			return admin_finish(a, CTL_ERR_NOMEM, "out of memory");
		admin_call(a, CALL_SET, zkd_path_topic(path, sizeof(path), a->name), data, len,
			   a->version);
		free(data);
		return;
	default:
		if (res->rc == ZK_BADVERSION && ++a->tries < MAX_TRIES) {
			a->step = 0; /* changed meanwhile: start over from what it is now */
			return admin_call(a, CALL_GET, zkd_path_topic(path, sizeof(path), a->name),
					  NULL, 0, -1);
		}
		if (res->rc == ZK_NONODE) {
			snprintf(msg, sizeof(msg), "The topic '%s' does not exist.", a->name);
			return admin_finish(a, CTL_ERR_UNKNOWN_TOPIC, msg);
		}
		if (res->rc != ZK_OK)
			return admin_zk_failed(a, "writing the topic", res->rc);
		tdm_info(SUB, "topic %s: %d partitions", a->name, (int)a->total);
		return admin_finish(a, 0, NULL);
	}
}

static void admin_step(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = ctx;
	struct ctlr_admin *a = op->admin;

	ctlr_op_end(op); /* admin calls outlive tenures: no generation check */
	switch (a->kind) {
	case ADMIN_CREATE:
		create_step(a, res);
		break;
	case ADMIN_DELETE:
		delete_step(a, res);
		break;
	case ADMIN_PARTITIONS:
		partitions_step(a, res);
		break;
	}
}

static struct ctlr_admin *admin_new(struct tdm_controller *c, enum admin_kind kind,
				    const char *name, ctlr_done_fn done, void *ctx)
{
	struct ctlr_admin *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (!(a->name = strdup(name))) {
		free(a);
		return NULL;
	}
	a->c = c;
	a->kind = kind;
	a->done = done;
	a->ctx = ctx;
	a->next = c->admins;
	if (c->admins)
		c->admins->prev = a;
	c->admins = a;
	return a;
}

static int copy_assignment(struct ctlr_admin *a, const struct ctlr_replicas *asg, size_t n)
{
	size_t i;

	a->asg.parts = calloc(n ? n : 1, sizeof(*a->asg.parts));
	if (!a->asg.parts)
		return -1;
	a->asg.nparts = n;
	for (i = 0; i < n; i++) {
		a->asg.parts[i].ids = malloc((asg[i].n ? asg[i].n : 1) * sizeof(int32_t));
		if (!a->asg.parts[i].ids)
			return -1;
		if (asg[i].n)
			memcpy(a->asg.parts[i].ids, asg[i].ids, asg[i].n * sizeof(int32_t));
		a->asg.parts[i].n = asg[i].n;
	}
	a->explicit_asg = true;
	return 0;
}

/* Finishes a with an error on the loop's next turn, as every completion
 * comes: through a ZooKeeper call that cannot fail (exists of "/"). */
static int admin_fail_later(struct ctlr_admin *a, int err, const char *msg);

int ctlr_create_topic(struct tdm_controller *c, const char *name, int32_t partitions, int32_t rf,
		      const struct ctlr_replicas *assignment, size_t nassignment,
		      const char *const *keys, const char *const *values, size_t nconfigs,
		      bool validate_only, ctlr_done_fn done, void *ctx)
{
	struct ctlr_admin *a = admin_new(c, ADMIN_CREATE, name, done, ctx);
	char msg[400];
	int rc;

	if (!a)
		return -1;
	a->partitions = partitions < 0 ? c->cfg.default_partitions : partitions;
	a->rf = rf < 0 ? c->cfg.default_rf : rf;
	a->validate_only = validate_only;
	if (nconfigs) {
		a->cfg.keys = calloc(nconfigs, sizeof(char *));
		a->cfg.values = calloc(nconfigs, sizeof(char *));
		if (!a->cfg.keys || !a->cfg.values)
			goto oom;
		for (; a->cfg.n < nconfigs; a->cfg.n++) {
			a->cfg.keys[a->cfg.n] = strdup(keys[a->cfg.n]);
			a->cfg.values[a->cfg.n] = strdup(values[a->cfg.n]);
			if (!a->cfg.keys[a->cfg.n] || !a->cfg.values[a->cfg.n]) {
				a->cfg.n++;
				goto oom;
			}
		}
	}
	if ((rc = topic_name_check(name, msg, sizeof(msg))) != 0)
		return admin_fail_later(a, rc, msg);
	if (nassignment) {
		if (partitions != -1 || rf != -1)
			return admin_fail_later(
				a, CTL_ERR_INVALID_REQUEST,
				"Both numPartitions or replicationFactor and "
				"replicasAssignments were set. Both cannot be used at "
				"the same time.");
		if (copy_assignment(a, assignment, nassignment))
			goto oom;
	}
	admin_call(a, CALL_CHILDREN, ZKD_BROKERS_IDS, NULL, 0, -1);
	return 0;
oom:
	ctlr_admin_free(a); /* zkd_config_free frees what was copied */
	return -1;
}

int ctlr_delete_topic(struct tdm_controller *c, const char *name, ctlr_done_fn done, void *ctx)
{
	struct ctlr_admin *a = admin_new(c, ADMIN_DELETE, name, done, ctx);
	char path[ZKD_PATH_MAX], msg[400];
	int rc;

	if (!a)
		return -1;
	if ((rc = topic_name_check(name, msg, sizeof(msg))) != 0)
		return admin_fail_later(a, CTL_ERR_UNKNOWN_TOPIC, msg);
	admin_call(a, CALL_EXISTS, zkd_path_topic(path, sizeof(path), name), NULL, 0, -1);
	return 0;
}

int ctlr_create_partitions(struct tdm_controller *c, const char *name, int32_t total,
			   const struct ctlr_replicas *assignment, size_t nassignment,
			   bool validate_only, ctlr_done_fn done, void *ctx)
{
	struct ctlr_admin *a = admin_new(c, ADMIN_PARTITIONS, name, done, ctx);
	char path[ZKD_PATH_MAX], msg[400];

	if (!a)
		return -1;
	a->total = total;
	a->validate_only = validate_only;
	if (nassignment && copy_assignment(a, assignment, nassignment)) {
		ctlr_admin_free(a);
		return -1;
	}
	if (topic_name_check(name, msg, sizeof(msg)) != 0) {
		snprintf(msg, sizeof(msg), "The topic '%s' does not exist.", name);
		return admin_fail_later(a, CTL_ERR_UNKNOWN_TOPIC, msg);
	}
	admin_call(a, CALL_GET, zkd_path_topic(path, sizeof(path), name), NULL, 0, -1);
	return 0;
}

/* ---- an early failure, delivered as a completion ---------------------- */

static void on_fail_later(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = ctx;
	struct ctlr_admin *a = op->admin;

	(void)res;
	ctlr_op_end(op);
	admin_finish(a, a->fail_err, a->fail_msg);
}

static int admin_fail_later(struct ctlr_admin *a, int err, const char *msg)
{
	struct tdm_controller *c = a->c;
	struct ctlr_op *op;

	a->fail_err = err;
	a->fail_msg = strdup(msg);
	op = ctlr_op_new(c, NULL, 0);
	if (!a->fail_msg || !op) {
		if (op)
			ctlr_op_end(op);
		ctlr_admin_free(a);
		return -1;
	}
	op->admin = a;
	if (zk_exists(c->zk, "/", NULL, NULL, on_fail_later, op)) {
		ctlr_op_end(op);
		ctlr_admin_free(a);
		return -1;
	}
	return 0;
}
