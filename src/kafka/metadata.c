/*
 * Metadata v0-4: this broker is the one broker, the controller and the
 * leader of every partition.  Unknown topics are created when
 * auto_create_topics is on, the client allows it (v4 flag) and the user
 * may configure the name; internal topics (the group offsets log) are not
 * shown, nor topics the user has no permission on (authz.c: Kafka's
 * DESCRIBE), which named get TOPIC_AUTHORIZATION_FAILED.
 *
 * Must not depend on: src/amqp.
 */
#include "core/config.h"
#include "kafka/kf.h"

static void put_topic(struct evbuffer *b, int ver, int16_t err, const char *name, int32_t len,
		      struct ls_topic *t)
{
	int32_t n = t ? tdm_topic_partitions(t) : 0;

	kf_put_i16(b, err);
	kf_put_strn(b, name, len);
	if (ver >= 1)
		kf_put_i8(b, 0); /* is_internal */
	kf_put_i32(b, n);
	for (int32_t i = 0; i < n; i++) {
		kf_put_i16(b, KF_ERR_NONE);
		kf_put_i32(b, i);
		kf_put_i32(b, KF_NODE_ID); /* leader */
		kf_put_i32(b, 1);          /* replicas */
		kf_put_i32(b, KF_NODE_ID);
		kf_put_i32(b, 1);          /* isr */
		kf_put_i32(b, KF_NODE_ID);
	}
}

struct all_ctx {
	struct kf_conn *kc;
	struct evbuffer *b;
	int ver;
	int32_t count;
};

static void put_all(struct ls_topic *t, void *arg)
{
	struct all_ctx *a = arg;
	const char *name = tdm_topic_name(t);

	if (tdm_topic_is_internal(t) || !kf_authz_topic_visible(a->kc, name, strlen(name)))
		return; /* internal, another vhost's, or not the user's to see */
	if (a->b)
		put_topic(a->b, a->ver, KF_ERR_NONE, name, (int32_t)strlen(name), t);
	a->count++;
}

int kf_h_metadata(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_server *srv = kc->srv;
	int ver = kc->hdr.api_version;
	struct kf_metadata_req r;

	if (kf_decode_metadata(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (ver >= 3)
		kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i32(resp, 1);         /* brokers */
	kf_put_i32(resp, KF_NODE_ID);
	kf_put_str(resp, kc->host);
	kf_put_i32(resp, kc->port);
	if (ver >= 1)
		kf_put_str(resp, NULL); /* rack */
	if (ver >= 2)
		kf_put_str(resp, KF_CLUSTER_ID);
	if (ver >= 1)
		kf_put_i32(resp, KF_NODE_ID); /* controller_id */
	if (r.ntopics < 0) {
		struct all_ctx a = { kc, NULL, ver, 0 };

		tdm_topics_foreach(srv->topics, put_all, &a);
		kf_put_i32(resp, a.count);
		a.b = resp;
		tdm_topics_foreach(srv->topics, put_all, &a);
		return KF_R_DONE;
	}
	kf_put_i32(resp, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		struct kf_str name = r.topics[i];
		struct ls_topic *t = NULL;
		int16_t err = KF_ERR_NONE;
		char buf[256];

		if (name.len > 0 && (kf_str_cstr(name, buf, sizeof(buf)) < 0 ||
				     !kf_authz_topic_visible(kc, buf, strlen(buf)))) {
			/* never created, nor shown (overlong names: never there) */
			if (name.len < (int32_t)sizeof(buf))
				err = KF_ERR_TOPIC_AUTHORIZATION_FAILED;
		} else if (!(t = kf_topic_lookup(kc, name)) && srv->cfg->auto_create_topics &&
			   r.allow_auto_topic_creation &&
			   kf_authz_topic(kc, TDM_PERM_CONFIGURE, name) == KF_ERR_NONE) {
			int rc = TDM_ERR_INVALID_TOPIC;

			if (kf_str_cstr(name, buf, sizeof(buf)) == 0)
				rc = tdm_topics_create(srv->topics, buf, (int32_t)srv->cfg->num_partitions,
						       NULL, 0, NULL, 0);
			if (rc == TDM_TOPIC_OK || rc == TDM_ERR_EXISTS)
				t = kf_topic_lookup(kc, name);
			else
				err = kf_err_from_core(rc);
		}
		if (!t && err == KF_ERR_NONE)
			err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		put_topic(resp, ver, err, name.p, name.len < 0 ? 0 : name.len, t);
	}
	return KF_R_DONE;
}
