/*
 * logstore/topic.c: topics: names, metadata files (partition count and
 * config overrides, replaced atomically: the file is the commit point of
 * create, alter and grow), creation, deletion, growth, configuration.
 *
 * Metadata file "<topic>.topic", one key=value a line:
 *   version=1, partitions=N, internal=0|1, id=<topic id> (a cluster's
 *   topic, optional), config.<key>=<value> ...
 *
 * Must not depend on anything but libc and POSIX.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logstore_internal.h"

#define MAX_PARTITIONS 1000000

int ls_topic_valid_name(const char *name)
{
	size_t len = strlen(name);

	/* Kafka allows 249; we keep room for "-<partition>" and
	 * ".topic.tmp" within NAME_MAX (255). */
	if (len == 0 || len > 240 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

const char *ls_topic_name(const struct ls_topic *t)
{
	return t->name;
}

int32_t ls_topic_partition_count(const struct ls_topic *t)
{
	return t->nparts;
}

int ls_topic_is_internal(const struct ls_topic *t)
{
	return t->internal;
}

const struct ls_topic_config *ls_topic_get_config(const struct ls_topic *t)
{
	return &t->cfg;
}

struct ls_partition *ls_partition_get(struct ls_topic *t, int32_t i)
{
	return i >= 0 && i < t->nparts ? t->parts[i] : NULL;
}

int32_t ls_topic_next_partition(struct ls_topic *t)
{
	return (int32_t)(t->rr++ % (uint32_t)t->nparts);
}

int ls_topic_config_value(const struct ls_topic *t, const char *name, char *buf,
			  size_t len, int *is_default)
{
	int i = ls_config_index(name);

	if (i < 0)
		return LS_ERR_INVALID_CONFIG;
	if (is_default != NULL)
		*is_default = !(t->ovr_mask & (UINT64_C(1) << i));
	return ls_config_format(&t->cfg, name, buf, len);
}

/* Effective config: store defaults, then the overrides. */
static void compute_effective(struct ls_topic *t)
{
	t->cfg = t->store->opt.defaults;
	for (size_t i = 0; i < ls_config_count(); i++)
		if (t->ovr_mask & (UINT64_C(1) << i))
			ls_config_copy_key(&t->cfg, &t->ovr, (int)i);
}

static int apply_kvs(struct ls_topic_config *ovr, uint64_t *mask,
		     const struct ls_kv *kv, size_t n, int allow_null, char *err,
		     size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int k = kv[i].name ? ls_config_index(kv[i].name) : -1;

		if (k < 0) {
			tu_errf(err, errlen, "unknown config %s",
				   kv[i].name ? kv[i].name : "(null)");
			return LS_ERR_INVALID_CONFIG;
		}
		if (kv[i].value == NULL && allow_null) {
			*mask &= ~(UINT64_C(1) << k);
			continue;
		}
		if (kv[i].value == NULL || ls_config_set(ovr, kv[i].name, kv[i].value) != LS_OK) {
			tu_errf(err, errlen, "invalid value %s for config %s",
				   kv[i].value ? kv[i].value : "(null)", kv[i].name);
			return LS_ERR_INVALID_CONFIG;
		}
		*mask |= UINT64_C(1) << k;
	}
	return LS_OK;
}

/* Writes "<name>.topic" for t with the given count and overrides. */
static int write_meta(struct ls_topic *t, int32_t nparts,
		      const struct ls_topic_config *ovr, uint64_t mask)
{
	char *buf = NULL, name[300], val[64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = LS_ERR_NOMEM;

	if (f == NULL)
		return LS_ERR_NOMEM;
	fprintf(f, "# tandem logstore topic metadata\nversion=1\npartitions=%" PRId32
		   "\ninternal=%d\n", nparts, t->internal);
	if (t->id[0])
		fprintf(f, "id=%s\n", t->id);
	for (size_t i = 0; i < ls_config_count(); i++)
		if (mask & (UINT64_C(1) << i)) {
			ls_config_format(ovr, ls_config_name(i), val, sizeof val);
			fprintf(f, "config.%s=%s\n", ls_config_name(i), val);
		}
	if (fclose(f) != 0)
		goto out;
	snprintf(name, sizeof name, "%s.topic", t->name);
	rc = ls_atomic_write(t->store->dirfd, name, buf, len) == 0 ? LS_OK : LS_ERR_IO;
out:
	free(buf);
	return rc;
}

void ls_topic_free(struct ls_topic *t)
{
	if (t == NULL)
		return;
	for (int32_t i = 0; i < t->nparts; i++)
		ls_partition_unref(t->parts[i]);
	free(t->parts);
	free(t->name);
	free(t);
}

static struct ls_topic *topic_alloc(struct ls_store *s, const char *name)
{
	struct ls_topic *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->store = s;
	t->name = strdup(name);
	if (t->name == NULL) {
		free(t);
		return NULL;
	}
	ls_config_defaults(&t->ovr);
	return t;
}

/* Opens partitions [from, to) of t (create: new folders). */
static int open_partitions(struct ls_topic *t, int32_t from, int32_t to, int create,
			   int clean, char *err, size_t errlen)
{
	struct ls_partition **parts = realloc(t->parts, (size_t)to * sizeof *parts);

	if (parts == NULL) {
		tu_errf(err, errlen, "out of memory");
		return LS_ERR_NOMEM;
	}
	t->parts = parts;
	for (int32_t i = from; i < to; i++) {
		char dirname[300];
		uint64_t rp = 0, cp = 0, hw = 0;

		snprintf(dirname, sizeof dirname, "%s-%" PRId32, t->name, i);
		if (!create)
			ls_store_checkpoint_lookup(t->store, dirname, &rp, &cp, &hw);
		parts[i] = ls_partition_open(t->store, t, i, create, clean, rp, cp, err,
					     errlen);
		if (parts[i] != NULL) {
			uint64_t lso = create ? 0 : ls_store_log_start_lookup(t->store, dirname);
			parts[i]->hw = hw < parts[i]->log_end ? hw : parts[i]->log_end;
			if (lso > parts[i]->log_start && lso <= parts[i]->log_end)
				parts[i]->log_start = lso; /* ls_partition_set_log_start's */
			if (parts[i]->cleaner_point < parts[i]->log_start)
				parts[i]->cleaner_point = parts[i]->log_start;
		}
		if (parts[i] == NULL) {
			for (int32_t j = from; j < i; j++) {
				if (create)
					ls_partition_destroy(parts[j]);
				else
					ls_partition_unref(parts[j]);
			}
			return LS_ERR_IO;
		}
	}
	return LS_OK;
}

struct ls_topic *ls_topic_create_internal(struct ls_store *s, const char *name,
					  int32_t partitions, const struct ls_kv *cfg,
					  size_t ncfg, int internal, char *err,
					  size_t errlen)
{
	struct ls_topic *t = topic_alloc(s, name);
	int rc;

	if (t == NULL) {
		tu_errf(err, errlen, "out of memory");
		return NULL;
	}
	t->internal = internal;
	if (apply_kvs(&t->ovr, &t->ovr_mask, cfg, ncfg, 0, err, errlen) != LS_OK)
		goto fail;
	compute_effective(t);
	if (open_partitions(t, 0, partitions, 1, 1, err, errlen) != LS_OK)
		goto fail;
	t->nparts = partitions;
	rc = write_meta(t, partitions, &t->ovr, t->ovr_mask);
	if (rc != LS_OK) {
		tu_errf(err, errlen, "writing %s.topic: %s", name, strerror(errno));
		for (int32_t i = 0; i < t->nparts; i++)
			ls_partition_destroy(t->parts[i]);
		t->nparts = 0;
		goto fail;
	}
	if (ls_store_insert_topic(s, t) != LS_OK) {
		tu_errf(err, errlen, "out of memory");
		goto fail; /* the next open loads it */
	}
	return t;
fail:
	ls_topic_free(t);
	return NULL;
}

/* ---- drafts: topics and partitions made off the caller's thread --------------- */

/*
 * A draft is a topic, or more partitions of one, being made.  Its name is
 * taken from the moment it is started (another create of that name is
 * LS_ERR_EXISTS) but nothing of it is visible until ls_draft_finish.  The
 * build step touches only the draft's own objects and new folders, so it
 * may run on another thread while the store goes on serving.
 */
struct ls_draft {
	struct ls_store *store;      /* ref */
	char *name;                  /* owned */
	struct ls_topic *topic;      /* create: owned until inserted; grow: ref (looked up again) */
	struct ls_topic shadow;      /* grow: what the new partitions see while built */
	struct ls_partition **parts; /* grow: owned, [from, to) */
	int32_t from, to;
	int grow;
	int rc;                      /* of the build */
	char err[256];
	struct ls_draft *next;       /* the store's list of drafts */
};

static int draft_named(const struct ls_store *s, const char *name)
{
	for (const struct ls_draft *d = s->drafts; d; d = d->next)
		if (strcmp(d->name, name) == 0)
			return 1;
	return 0;
}

static struct ls_draft *draft_alloc(struct ls_store *s, const char *name)
{
	struct ls_draft *d = calloc(1, sizeof *d);

	if (d == NULL || (d->name = strdup(name)) == NULL) {
		free(d);
		return NULL;
	}
	d->store = s;
	d->next = s->drafts;
	s->drafts = d;
	return d;
}

static void draft_free(struct ls_draft *d)
{
	struct ls_draft **pp = &d->store->drafts;

	while (*pp != d)
		pp = &(*pp)->next;
	*pp = d->next;
	free(d->parts);
	free(d->name);
	free(d);
}

int ls_draft_topic(struct ls_store *s, const char *name, int32_t partitions,
		   const struct ls_kv *configs, size_t nconfigs, struct ls_draft **out,
		   char *err, size_t errlen)
{
	struct ls_draft *d;
	struct ls_topic *t;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (name == NULL || !ls_topic_valid_name(name)) {
		tu_errf(err, errlen, "illegal topic name");
		return LS_ERR_INVALID_TOPIC;
	}
	if (ls_topic_find(s, name) != NULL || draft_named(s, name)) {
		tu_errf(err, errlen, "topic %s already exists", name);
		return LS_ERR_EXISTS;
	}
	if (strcmp(name, LS_INTERNAL_OFFSETS_TOPIC) == 0) {
		tu_errf(err, errlen, "%s is reserved", name);
		return LS_ERR_INVALID_TOPIC;
	}
	if (partitions < 1 || partitions > MAX_PARTITIONS) {
		tu_errf(err, errlen, "partition count must be 1..%d", MAX_PARTITIONS);
		return LS_ERR_INVALID;
	}
	t = topic_alloc(s, name);
	if (t == NULL) {
		tu_errf(err, errlen, "out of memory");
		return LS_ERR_NOMEM;
	}
	if (apply_kvs(&t->ovr, &t->ovr_mask, configs, nconfigs, 0, err, errlen) != LS_OK) {
		ls_topic_free(t);
		return LS_ERR_INVALID_CONFIG;
	}
	compute_effective(t);
	d = draft_alloc(s, name);
	if (d == NULL) {
		ls_topic_free(t);
		tu_errf(err, errlen, "out of memory");
		return LS_ERR_NOMEM;
	}
	d->topic = t;
	d->to = partitions;
	*out = d;
	return LS_OK;
}

int ls_draft_partitions(struct ls_store *s, struct ls_topic *t, int32_t count,
			struct ls_draft **out)
{
	struct ls_draft *d;

	*out = NULL;
	if (count <= t->nparts || count > MAX_PARTITIONS)
		return LS_ERR_INVALID;
	if (draft_named(s, t->name))
		return LS_ERR_BUSY;
	d = draft_alloc(s, t->name);
	if (d == NULL)
		return LS_ERR_NOMEM;
	d->parts = calloc((size_t)count, sizeof *d->parts);
	if (d->parts == NULL) {
		draft_free(d);
		return LS_ERR_NOMEM;
	}
	d->grow = 1;
	d->topic = t;
	/* the new partitions are built against a copy: t's settings may
	 * change on the loop meanwhile; ls_draft_finish points them at t */
	d->shadow = *t;
	d->shadow.name = d->name;
	d->shadow.parts = NULL;
	d->from = t->nparts;
	d->to = count;
	*out = d;
	return LS_OK;
}

const char *ls_draft_name(const struct ls_draft *d)
{
	return d->name;
}

void ls_draft_build(struct ls_draft *d)
{
	if (ls_fault_take(LS_FAULT_SLOW_MAKE, d->name)) { /* tests: a slow disk */
		struct timespec ts = { LS_FAULT_SLOW_MS / 1000, (LS_FAULT_SLOW_MS % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (!d->grow) {
		struct ls_topic *t = d->topic;

		d->rc = open_partitions(t, 0, d->to, 1, 1, d->err, sizeof d->err);
		if (d->rc != LS_OK)
			return;
		t->nparts = d->to;
		d->rc = write_meta(t, d->to, &t->ovr, t->ovr_mask); /* the commit point */
		if (d->rc != LS_OK) {
			tu_errf(d->err, sizeof d->err, "writing %s.topic: %s", d->name,
				   strerror(errno));
			for (int32_t i = 0; i < t->nparts; i++)
				ls_partition_destroy(t->parts[i]);
			t->nparts = 0;
		}
		return;
	}
	for (int32_t i = d->from; i < d->to; i++) {
		d->parts[i] = ls_partition_open(d->store, &d->shadow, i, 1, 1, 0, 0, d->err,
						sizeof d->err);
		if (d->parts[i] == NULL) {
			while (i-- > d->from) {
				ls_partition_destroy(d->parts[i]);
				d->parts[i] = NULL;
			}
			d->rc = LS_ERR_IO;
			return;
		}
	}
}

/* Grow: the partitions join their topic, if it still exists. */
static int finish_grow(struct ls_draft *d)
{
	struct ls_topic *t = ls_topic_find(d->store, d->name);
	struct ls_partition **parts;
	int rc = LS_ERR_NOT_FOUND;

	/* while the draft held the name, no other topic of that name could
	 * be created: found means it is still d->topic */
	if (t != NULL && (parts = realloc(t->parts, (size_t)d->to * sizeof *parts)) == NULL)
		rc = LS_ERR_NOMEM;
	else if (t != NULL) {
		t->parts = parts;
		rc = write_meta(t, d->to, &t->ovr, t->ovr_mask);
	}
	for (int32_t i = d->from; i < d->to; i++) {
		if (rc != LS_OK) {
			ls_partition_destroy(d->parts[i]);
			continue;
		}
		d->parts[i]->topic = t;
		t->parts[i] = d->parts[i];
	}
	if (rc == LS_OK)
		t->nparts = d->to;
	return rc;
}

int ls_draft_finish(struct ls_draft *d, char *err, size_t errlen)
{
	int rc = d->rc;

	if (rc == LS_OK && d->grow) {
		rc = finish_grow(d);
	} else if (d->grow) {
		/* nothing was built: the partitions were destroyed in the build */
	} else if (rc == LS_OK && ls_store_insert_topic(d->store, d->topic) != LS_OK) {
		rc = LS_ERR_NOMEM; /* the next open loads it */
		ls_topic_free(d->topic);
	} else if (rc != LS_OK) {
		ls_topic_free(d->topic);
	}
	if (rc != LS_OK)
		tu_errf(err, errlen, "%s", d->err[0] ? d->err : ls_strerror(rc));
	draft_free(d);
	return rc;
}

int ls_topic_create(struct ls_store *s, const char *name, int32_t partitions,
		    const struct ls_kv *configs, size_t nconfigs, char *err,
		    size_t errlen)
{
	struct ls_draft *d;
	int rc = ls_draft_topic(s, name, partitions, configs, nconfigs, &d, err, errlen);

	if (rc != LS_OK)
		return rc;
	ls_draft_build(d);
	return ls_draft_finish(d, err, errlen);
}

struct ls_topic *ls_topic_load(struct ls_store *s, const char *name, int clean,
			       char *err, size_t errlen)
{
	struct ls_topic *t = NULL;
	char fname[300], *data = NULL, *line, *save = NULL;
	size_t len;
	long long nparts = -1;

	snprintf(fname, sizeof fname, "%s.topic", name);
	if (ls_read_file(s->dirfd, fname, &data, &len) != 0) {
		tu_errf(err, errlen, "read %s: %s", fname, strerror(errno));
		return NULL;
	}
	t = topic_alloc(s, name);
	if (t == NULL) {
		tu_errf(err, errlen, "out of memory");
		goto fail;
	}
	for (line = strtok_r(data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), *end;

		if (line[0] == '#' || eq == NULL)
			continue;
		*eq = '\0';
		if (strcmp(line, "partitions") == 0) {
			errno = 0;
			nparts = strtoll(eq + 1, &end, 10);
			if (errno != 0 || end == eq + 1 || *end != '\0')
				nparts = -1;
		} else if (strcmp(line, "internal") == 0) {
			t->internal = atoi(eq + 1) != 0;
		} else if (strcmp(line, "id") == 0 && strlen(eq + 1) <= LS_TOPIC_ID_MAX) {
			strcpy(t->id, eq + 1);
		} else if (strncmp(line, "config.", 7) == 0) {
			struct ls_kv kv = { line + 7, eq + 1 };

			/* One bad setting costs that setting, not the topic
			 * (nor the broker's start). */
			if (apply_kvs(&t->ovr, &t->ovr_mask, &kv, 1, 0, NULL, 0) != LS_OK)
				ls_warn(s, "topic %s: invalid setting %s=%s in %s ignored, "
					   "the default applies",
					name, line + 7, eq + 1, fname);
		}
	}
	if (nparts < 1 || nparts > MAX_PARTITIONS) {
		int32_t found = ls_topic_scan_partitions(s, name, NULL);

		ls_warn(s, "topic %s: no valid partition count in %s; %" PRId32
			   " partition folders found on disk, keeping them all",
			name, fname, found);
		nparts = found > 0 ? found : 1;
	}
	compute_effective(t);
	if (open_partitions(t, 0, (int32_t)nparts, 0, clean, err, errlen) != LS_OK)
		goto fail;
	t->nparts = (int32_t)nparts;
	free(data);
	return t;
fail:
	free(data);
	ls_topic_free(t);
	return NULL;
}

int32_t ls_topic_scan_partitions(struct ls_store *s, const char *name, int *has_data)
{
	size_t nlen = strlen(name);
	int32_t count = 0;
	struct dirent *de;
	DIR *d;
	int fd = dup(s->dirfd);

	if (has_data != NULL)
		*has_data = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rewinddir(d); /* the dup shares its offset with dirfd */
	while ((de = readdir(d)) != NULL) {
		const char *dn = de->d_name;
		char *end;
		long long idx;

		if (strncmp(dn, name, nlen) != 0 || dn[nlen] != '-' || dn[nlen + 1] < '0' ||
		    dn[nlen + 1] > '9')
			continue;
		errno = 0;
		idx = strtoll(dn + nlen + 1, &end, 10);
		if (errno != 0 || *end != '\0' || idx >= MAX_PARTITIONS)
			continue;
		if (idx + 1 > count)
			count = (int32_t)idx + 1;
		if (has_data != NULL && !*has_data && ls_dir_has_data(s->dirfd, dn))
			*has_data = 1;
	}
	closedir(d);
	return count;
}

int ls_dir_has_data(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), found = 0;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return errno != ENOENT && errno != ENOTDIR; /* unsure: keep it */
	}
	while (!found && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat st;

		if (len > 4 && strcmp(de->d_name + len - 4, ".log") == 0 &&
		    (fstatat(fd, de->d_name, &st, 0) != 0 || st.st_size > 0))
			found = 1;
	}
	closedir(d);
	return found;
}

struct ls_topic *ls_topic_rebuild(struct ls_store *s, const char *name, int32_t nparts,
				  int clean, char *err, size_t errlen)
{
	static const struct ls_kv offsets_cfg[] = {
		{ "cleanup.policy", "compact" },
		{ "segment.bytes", "104857600" },
	};
	struct ls_topic *t = topic_alloc(s, name);

	if (t == NULL) {
		tu_errf(err, errlen, "out of memory");
		return NULL;
	}
	if (strcmp(name, LS_INTERNAL_OFFSETS_TOPIC) == 0) {
		t->internal = 1;
		apply_kvs(&t->ovr, &t->ovr_mask, offsets_cfg, 2, 0, NULL, 0);
	}
	compute_effective(t);
	if (write_meta(t, nparts, &t->ovr, t->ovr_mask) != LS_OK) {
		tu_errf(err, errlen, "writing %s.topic: %s", name, strerror(errno));
		goto fail;
	}
	if (open_partitions(t, 0, nparts, 0, clean, err, errlen) != LS_OK)
		goto fail;
	t->nparts = nparts;
	return t;
fail:
	ls_topic_free(t);
	return NULL;
}

int ls_topic_delete(struct ls_store *s, const char *name)
{
	struct ls_topic *t = ls_topic_find(s, name);
	char fname[300];
	size_t i;

	if (t == NULL)
		return LS_ERR_NOT_FOUND;
	if (t->internal)
		return LS_ERR_INVALID;
	/* The folders are renamed out of the way first: at the next open a
	 * partition folder without its metadata file is data to keep (its
	 * metadata is rebuilt), a "*.deleted" one the rest of a delete. */
	for (int32_t j = 0; j < t->nparts; j++) {
		struct ls_partition *p = t->parts[j];
		char *gone = malloc(strlen(p->dirname) + sizeof ".deleted");

		if (gone == NULL)
			return LS_ERR_NOMEM;
		sprintf(gone, "%s.deleted", p->dirname);
		if (renameat(s->dirfd, p->dirname, s->dirfd, gone) != 0) {
			free(gone);
			while (j-- > 0) { /* undo: the topic stays whole */
				p = t->parts[j];
				gone = p->dirname;
				p->dirname = strndup(gone, strlen(gone) - strlen(".deleted"));
				if (p->dirname == NULL) {
					p->dirname = gone;
					continue;
				}
				renameat(s->dirfd, gone, s->dirfd, p->dirname);
				free(gone);
			}
			return LS_ERR_IO;
		}
		free(p->dirname);
		p->dirname = gone;
	}
	snprintf(fname, sizeof fname, "%s.topic", name);
	if (ls_fsync_fd(s->dirfd) != 0 || unlinkat(s->dirfd, fname, 0) != 0 ||
	    ls_fsync_fd(s->dirfd) != 0)
		return LS_ERR_IO;
	for (i = 0; i < s->ntopics && s->topics[i] != t; i++)
		;
	memmove(&s->topics[i], &s->topics[i + 1], (s->ntopics - i - 1) * sizeof t);
	s->ntopics--;
	for (int32_t j = 0; j < t->nparts; j++)
		ls_partition_destroy(t->parts[j]);
	t->nparts = 0;
	if (!s->offsets_replica) /* else the leader's tombstones come by replication */
		ls_offsets_forget_topic(s, t->name);
	ls_topic_free(t);
	return LS_OK;
}

int ls_topic_set_config(struct ls_store *s, struct ls_topic *t,
			const struct ls_kv *configs, size_t nconfigs, char *err,
			size_t errlen)
{
	struct ls_topic_config ovr = t->ovr;
	uint64_t mask = t->ovr_mask;
	int rc;

	(void)s;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	rc = apply_kvs(&ovr, &mask, configs, nconfigs, 1, err, errlen);
	if (rc != LS_OK)
		return rc;
	if (t->internal && !(ovr.cleanup_policy & LS_CLEANUP_COMPACT) &&
	    (mask & (UINT64_C(1) << ls_config_index("cleanup.policy")))) {
		tu_errf(err, errlen, "internal topics stay compacted");
		return LS_ERR_INVALID_CONFIG;
	}
	rc = write_meta(t, t->nparts, &ovr, mask);
	if (rc != LS_OK)
		return rc;
	t->ovr = ovr;
	t->ovr_mask = mask;
	compute_effective(t);
	return LS_OK;
}

const char *ls_topic_id(const struct ls_topic *t)
{
	return t->id;
}

int ls_topic_set_id(struct ls_topic *t, const char *id)
{
	char old[sizeof t->id];
	size_t n = strlen(id);

	if (n > LS_TOPIC_ID_MAX || strpbrk(id, "\n\r") != NULL)
		return LS_ERR_INVALID;
	memcpy(old, t->id, sizeof old);
	memcpy(t->id, id, n + 1);
	int rc = write_meta(t, t->nparts, &t->ovr, t->ovr_mask);
	if (rc != LS_OK)
		memcpy(t->id, old, sizeof old); /* the file still says the old one */
	return rc;
}

int ls_topic_add_partitions(struct ls_store *s, struct ls_topic *t, int32_t count)
{
	struct ls_draft *d;
	int rc = ls_draft_partitions(s, t, count, &d);

	if (rc != LS_OK)
		return rc;
	ls_draft_build(d);
	return ls_draft_finish(d, NULL, 0);
}

int ls_store_set_defaults(struct ls_store *s, const struct ls_topic_config *d)
{
	s->opt.defaults = *d;
	for (size_t i = 0; i < s->ntopics; i++)
		compute_effective(s->topics[i]);
	return LS_OK;
}

int ls_store_write_file(struct ls_store *s, const char *name, const void *buf, size_t len)
{
	size_t n = strlen(name);

	if (n == 0 || name[0] == '.' || strchr(name, '/') || strchr(name, '-') ||
	    (n > 4 && !strcmp(name + n - 4, ".tmp")) || (n > 6 && !strcmp(name + n - 6, ".topic")))
		return LS_ERR_INVALID;
	return ls_atomic_write(s->dirfd, name, buf, len) == 0 ? LS_OK : LS_ERR_IO;
}
