/*
 * logstore/offsets.c: consumer-group committed offsets, kept as Kafka
 * keeps them: records in the compacted internal topic
 * "__consumer_offsets" (key: group, topic, partition; value: offset,
 * metadata, commit time; a null value deletes), replayed into a hash
 * table on open.  Compaction keeps the topic as small as the live set.
 *
 * Key:   i16 version 1, i16 len + group, i16 len + topic, i32 partition
 * Value: i16 version 1, i64 offset, i16 len + metadata (-1: none),
 *        i64 commit time (ms)
 *
 * Must not depend on anything but libc and POSIX.
 */
#include <stdlib.h>
#include <string.h>

#include "logstore_internal.h"

struct ls_group_offset {
	int64_t offset;
	int64_t commit_ms;
	char *metadata; /* owned, NULL: none */
};

/* Map key: group NUL topic NUL partition (4 bytes big-endian). */
static size_t map_key(char *buf, const char *group, size_t glen, const char *topic,
		      size_t tlen, int32_t partition)
{
	memcpy(buf, group, glen);
	buf[glen] = '\0';
	memcpy(buf + glen + 1, topic, tlen);
	buf[glen + 1 + tlen] = '\0';
	ls_put_be32((unsigned char *)buf + glen + tlen + 2, (uint32_t)partition);
	return glen + tlen + 6;
}

static void split_key(const struct tu_map_entry *e, const char **group,
		      const char **topic, int32_t *partition)
{
	size_t glen = strlen(e->key);

	*group = e->key;
	*topic = e->key + glen + 1;
	*partition = (int32_t)ls_get_be32((const unsigned char *)e->key + e->key_len - 4);
}

static void free_go(struct ls_group_offset *go)
{
	if (go != NULL) {
		free(go->metadata);
		free(go);
	}
}

void ls_offsets_free(struct ls_store *s)
{
	struct tu_map_entry *e;
	size_t pos = 0;

	while ((e = tu_map_next(&s->offsets, &pos)) != NULL)
		free_go(e->value);
	tu_map_free(&s->offsets);
}

/* Applies one record to the table (load and commit share this). */
static int apply(struct ls_store *s, const char *group, size_t glen, const char *topic,
		 size_t tlen, int32_t partition, const struct ls_group_offset *v)
{
	char *key = malloc(glen + tlen + 6);
	struct ls_group_offset *go = NULL;
	void *old = NULL;
	size_t klen;
	int rc = LS_ERR_NOMEM;

	if (key == NULL)
		return LS_ERR_NOMEM;
	klen = map_key(key, group, glen, topic, tlen, partition);
	if (v == NULL) {
		free_go(tu_map_del(&s->offsets, key, klen));
		rc = LS_OK;
		goto out;
	}
	go = calloc(1, sizeof *go);
	if (go == NULL)
		goto out;
	*go = *v;
	if (v->metadata != NULL && (go->metadata = strdup(v->metadata)) == NULL)
		goto out;
	if (tu_map_put(&s->offsets, key, klen, go, &old) < 0)
		goto out; /* rc is LS_ERR_NOMEM */
	rc = LS_OK;
	free_go(old);
	go = NULL;
out:
	free_go(go);
	free(key);
	return rc;
}

static unsigned char *put_str(unsigned char *p, const char *str, size_t len)
{
	ls_put_be16(p, (uint16_t)len);
	memcpy(p + 2, str, len);
	return p + 2 + len;
}

static int get_str(const unsigned char **p, const unsigned char *end, const char **s,
		   size_t *len)
{
	int16_t n;

	if (end - *p < 2)
		return -1;
	n = (int16_t)ls_get_be16(*p);
	*p += 2;
	if (n < 0) {
		*s = NULL;
		*len = 0;
		return 0;
	}
	if (end - *p < n)
		return -1;
	*s = (const char *)*p;
	*len = (size_t)n;
	*p += n;
	return 0;
}

/* Appends n records (values NULL: tombstones) for (group, c[i]) and, when
 * that succeeded, applies them. */
static int write_records(struct ls_store *s, const char *group,
			 const struct ls_offset_commit *c, size_t n, int tombstones)
{
	struct ls_partition *p = ls_partition_get(s->offsets_topic, 0);
	size_t glen = strlen(group), total = 0;
	struct ls_record *recs = NULL;
	unsigned char *buf = NULL, *q;
	int64_t now = ls_now_ms(s);
	int rc = LS_ERR_NOMEM;

	if (glen == 0 || glen > 32767)
		return LS_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		size_t tl = strlen(c[i].topic), ml = c[i].metadata ? strlen(c[i].metadata) : 0;

		if (tl > 32767 || ml > 32767)
			return LS_ERR_INVALID;
		total += 10 + glen + tl + 20 + ml;
	}
	recs = calloc(n, sizeof *recs);
	buf = malloc(total + 1);
	if (recs == NULL || buf == NULL)
		goto out;
	q = buf;
	for (size_t i = 0; i < n; i++) {
		size_t tl = strlen(c[i].topic);

		recs[i].key = q;
		ls_put_be16(q, 1);
		q = put_str(q + 2, group, glen);
		q = put_str(q, c[i].topic, tl);
		ls_put_be32(q, (uint32_t)c[i].partition);
		q += 4;
		recs[i].key_len = (size_t)(q - (const unsigned char *)recs[i].key);
		recs[i].timestamp = now;
		if (tombstones)
			continue;
		recs[i].value = q;
		ls_put_be16(q, 1);
		ls_put_be64(q + 2, (uint64_t)c[i].offset);
		q += 10;
		if (c[i].metadata != NULL) {
			q = put_str(q, c[i].metadata, strlen(c[i].metadata));
		} else {
			ls_put_be16(q, UINT16_MAX);
			q += 2;
		}
		ls_put_be64(q, (uint64_t)now);
		q += 8;
		recs[i].value_len = (size_t)(q - (const unsigned char *)recs[i].value);
	}
	rc = ls_append(p, recs, n, LS_CODEC_NONE, NULL);
	if (rc != LS_OK)
		goto out;
	for (size_t i = 0; i < n && rc == LS_OK; i++) {
		struct ls_group_offset v = { c[i].offset, now, (char *)c[i].metadata };

		rc = apply(s, group, glen, c[i].topic, strlen(c[i].topic), c[i].partition,
			   tombstones ? NULL : &v);
	}
out:
	free(recs);
	free(buf);
	return rc;
}

int ls_offsets_commit(struct ls_store *s, const char *group,
		      const struct ls_offset_commit *c, size_t n)
{
	if (group == NULL)
		return LS_ERR_INVALID;
	if (n == 0)
		return LS_OK;
	return write_records(s, group, c, n, 0);
}

int ls_offset_fetch(struct ls_store *s, const char *group, const char *topic,
		    int32_t partition, int64_t *offset, const char **metadata)
{
	size_t glen = strlen(group), tlen = strlen(topic);
	char *key = malloc(glen + tlen + 6);
	struct ls_group_offset *go;

	if (key == NULL)
		return LS_ERR_NOMEM;
	go = tu_map_get(&s->offsets, key, map_key(key, group, glen, topic, tlen, partition));
	free(key);
	if (go == NULL)
		return LS_ERR_NOT_FOUND;
	*offset = go->offset;
	if (metadata != NULL)
		*metadata = go->metadata;
	return LS_OK;
}

void ls_offsets_foreach(struct ls_store *s, const char *group, ls_offset_fn fn,
			void *ctx)
{
	struct tu_map_entry *e;
	size_t pos = 0;

	while ((e = tu_map_next(&s->offsets, &pos)) != NULL) {
		struct ls_group_offset *go = e->value;
		const char *g, *t;
		int32_t part;

		split_key(e, &g, &t, &part);
		if (group == NULL || strcmp(group, g) == 0)
			fn(g, t, part, go->offset, go->metadata, go->commit_ms, ctx);
	}
}

/* Tombstones every entry matching group (or topic), one record each:
 * copies of the names are taken first because writing changes the table. */
static int delete_matching(struct ls_store *s, const char *group, const char *topic)
{
	struct victim {
		char *group, *topic;
		int32_t partition;
	} *v = NULL;
	size_t n = 0, cap = 0, pos = 0;
	struct tu_map_entry *e;
	int rc = LS_OK;

	while ((e = tu_map_next(&s->offsets, &pos)) != NULL) {
		const char *g, *t;
		int32_t part;

		split_key(e, &g, &t, &part);
		if ((group != NULL && strcmp(g, group) != 0) ||
		    (topic != NULL && strcmp(t, topic) != 0))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct victim *nv = realloc(v, ncap * sizeof *nv);

			if (nv == NULL) {
				rc = LS_ERR_NOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		v[n].group = strdup(g);
		v[n].topic = strdup(t);
		v[n].partition = part;
		n++;
		if (v[n - 1].group == NULL || v[n - 1].topic == NULL) {
			rc = LS_ERR_NOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n && rc == LS_OK; i++) {
		struct ls_offset_commit one = { v[i].topic, v[i].partition, 0, NULL };

		rc = write_records(s, v[i].group, &one, 1, 1);
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(v[i].group);
		free(v[i].topic);
	}
	free(v);
	return rc;
}

int ls_offsets_delete_group(struct ls_store *s, const char *group)
{
	return delete_matching(s, group, NULL);
}

int ls_offsets_delete(struct ls_store *s, const char *group, const char *topic,
		      const int32_t *partitions, size_t n)
{
	struct ls_offset_commit stack[16], *c = n <= 16 ? stack : calloc(n, sizeof *c);
	int rc;

	if (c == NULL)
		return LS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		c[i] = (struct ls_offset_commit){ topic, partitions[i], 0, NULL };
	rc = n ? write_records(s, group, c, n, 1) : LS_OK;
	if (c != stack)
		free(c);
	return rc;
}

int ls_offsets_forget_topic(struct ls_store *s, const char *name)
{
	return delete_matching(s, NULL, name);
}

int ls_offsets_load(struct ls_store *s)
{
	struct ls_partition *p = ls_partition_get(s->offsets_topic, 0);
	struct ls_decoder *dec = ls_decoder_new(s->opt.max_inflated_bytes);
	uint64_t off = ls_log_start(p);
	unsigned char *buf = NULL;
	size_t cap = 0;
	int rc = LS_OK;

	if (dec == NULL)
		return LS_ERR_NOMEM;
	while (off < ls_log_end(p)) {
		struct ls_read_result r;
		struct ls_record rec;
		int n;

		rc = ls_read(p, off, 1 << 20, &r);
		if (rc != LS_OK)
			break;
		if (r.len == 0) {
			ls_read_release(&r);
			break;
		}
		if (r.len > cap) {
			unsigned char *nb = realloc(buf, r.len);

			if (nb == NULL) {
				ls_read_release(&r);
				rc = LS_ERR_NOMEM;
				break;
			}
			buf = nb;
			cap = r.len;
		}
		rc = ls_read_copy(&r, buf);
		ls_read_release(&r);
		if (rc != LS_OK)
			break;
		ls_decoder_set(dec, buf, r.len, off);
		while ((n = ls_decoder_next(dec, &rec, NULL)) == 1) {
			const unsigned char *k = rec.key, *kend = k + rec.key_len;
			const char *group, *topic, *meta;
			size_t glen, tlen, mlen;
			int32_t part;

			if (k == NULL || rec.key_len < 2 || ls_get_be16(k) != 1)
				continue; /* not a version we know: skip */
			k += 2;
			if (get_str(&k, kend, &group, &glen) != 0 || group == NULL ||
			    get_str(&k, kend, &topic, &tlen) != 0 || topic == NULL ||
			    kend - k != 4)
				continue;
			part = (int32_t)ls_get_be32(k);
			if (rec.value == NULL) {
				rc = apply(s, group, glen, topic, tlen, part, NULL);
			} else {
				const unsigned char *v = rec.value, *vend = v + rec.value_len;
				struct ls_group_offset go;
				char *mcopy = NULL;

				if (rec.value_len < 10 || ls_get_be16(v) != 1)
					continue;
				go.offset = (int64_t)ls_get_be64(v + 2);
				v += 10;
				if (get_str(&v, vend, &meta, &mlen) != 0 || vend - v != 8)
					continue;
				go.commit_ms = (int64_t)ls_get_be64(v);
				if (meta != NULL) {
					mcopy = strndup(meta, mlen);
					if (mcopy == NULL) {
						rc = LS_ERR_NOMEM;
						break;
					}
				}
				go.metadata = mcopy;
				rc = apply(s, group, glen, topic, tlen, part, &go);
				free(mcopy);
			}
			if (rc != LS_OK)
				break;
		}
		if (n < 0 && rc == LS_OK)
			rc = n;
		if (rc != LS_OK)
			break;
		off = r.next_offset;
	}
	free(buf);
	ls_decoder_free(dec);
	return rc;
}

int ls_offsets_reload(struct ls_store *s)
{
	ls_offsets_free(s); /* leaves an empty table (the map keeps its seed) */
	return ls_offsets_load(s);
}

void ls_offsets_set_replica(struct ls_store *s, int replica)
{
	s->offsets_replica = replica != 0;
}
