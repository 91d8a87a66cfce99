/*
 * logstore/store.c: the store: opening a data directory (lock, clean
 * shutdown marker, recovery-point checkpoint, topics, orphan cleanup),
 * closing it cleanly, the topic table, and the flush timer step.
 *
 * Must not depend on anything but libc, POSIX and zlib.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logstore_internal.h"

#define CKPT_FILE "recovery-point-offset-checkpoint"
#define HW_FILE "replication-offset-checkpoint"
#define LSO_FILE "log-start-offset-checkpoint"
#define CLEAN_FILE ".clean_shutdown"
#define QUARANTINE_DIR "quarantine"
#define PID_FILE "producer-id-block"
#define PID_BLOCK 1000

void ls_options_init(struct ls_options *o)
{
	memset(o, 0, sizeof *o);
	ls_config_defaults(&o->defaults);
	o->checkpoint_interval_ms = 60000;
	o->max_inflated_bytes = 64u << 20;
	o->producer_id_expiration_ms = 86400000;
}

int64_t ls_now_ms(const struct ls_store *s)
{
	struct timespec ts;

	if (s->opt.clock_ms != NULL)
		return s->opt.clock_ms(s->opt.clock_ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- damage reports ---------------------------------------------------------- */

void ls_warn(const struct ls_store *s, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s->opt.warn != NULL)
		s->opt.warn(s->opt.warn_ctx, msg);
	else
		fprintf(stderr, "logstore: %s: %s\n", s->dir, msg);
}

int ls_quarantine_dir(const struct ls_store *s, const char *sub)
{
	char name[320];

	snprintf(name, sizeof name, "%s/%s", QUARANTINE_DIR, sub ? sub : "");
	if ((mkdirat(s->dirfd, QUARANTINE_DIR, 0755) != 0 && errno != EEXIST) ||
	    (sub != NULL && mkdirat(s->dirfd, name, 0755) != 0 && errno != EEXIST))
		return -1;
	return openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* ---- topic table ------------------------------------------------------------ */

static size_t topic_pos(const struct ls_store *s, const char *name, int *found)
{
	size_t lo = 0, hi = s->ntopics;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->topics[mid]->name, name);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ls_topic *ls_topic_find(struct ls_store *s, const char *name)
{
	int found;
	size_t i = topic_pos(s, name, &found);

	return found ? s->topics[i] : NULL;
}

int ls_store_insert_topic(struct ls_store *s, struct ls_topic *t)
{
	int found;
	size_t i = topic_pos(s, t->name, &found);

	if (found)
		return LS_ERR_EXISTS;
	if (s->ntopics == s->topics_cap) {
		size_t cap = s->topics_cap ? s->topics_cap * 2 : 16;
		struct ls_topic **n = realloc(s->topics, cap * sizeof *n);

		if (n == NULL)
			return LS_ERR_NOMEM;
		s->topics = n;
		s->topics_cap = cap;
	}
	memmove(&s->topics[i + 1], &s->topics[i], (s->ntopics - i) * sizeof *s->topics);
	s->topics[i] = t;
	s->ntopics++;
	return LS_OK;
}

void ls_topic_foreach(struct ls_store *s, ls_topic_fn fn, void *ctx)
{
	for (size_t i = 0; i < s->ntopics; i++)
		fn(s->topics[i], ctx);
}

const struct ls_topic_config *ls_store_defaults(const struct ls_store *s)
{
	return &s->opt.defaults;
}

size_t ls_topic_count(const struct ls_store *s)
{
	return s->ntopics;
}

/* ---- checkpoint ------------------------------------------------------------- */

/* The checkpoint values of partition folder `name` during ls_open:
 * {recovery point, cleaner point, high watermark, log start}, made (zeros) when
 * missing; NULL when out of memory. */
static uint64_t *ckpt_slot(struct ls_store *s, const char *name)
{
	uint64_t *v = tu_map_get(&s->ckpt, name, strlen(name));

	if (v != NULL)
		return v;
	v = calloc(4, sizeof *v);
	if (v != NULL && tu_map_put(&s->ckpt, name, strlen(name), v, NULL) < 0) {
		free(v);
		v = NULL;
	}
	return v;
}

/* A "1\n" then "<partition folder> <offset>" lines file (the high
 * watermarks, the log starts) into slot value k; *on set when it exists
 * (it is then kept up to date).  LS_OK or LS_ERR_IO. */
static int read_offsets_file(struct ls_store *s, const char *file, int k, int *on)
{
	char *data = NULL, *line, *save = NULL;
	size_t len;

	if (ls_read_file(s->dirfd, file, &data, &len) != 0)
		return errno == ENOENT ? LS_OK : LS_ERR_IO;
	*on = 1;
	for (line = strtok_r(data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[300];
		unsigned long long off;
		uint64_t *v;

		if (sscanf(line, "%299s %llu", name, &off) != 2)
			continue;
		if ((v = ckpt_slot(s, name)) == NULL)
			break;
		v[k] = off;
	}
	free(data);
	return LS_OK;
}

/* Format: "1\n" then "<partition folder> <recovery point> <cleaner point>"
 * lines; the high-watermark and log-start files: "1\n" then "<partition
 * folder> <offset>" lines (read_offsets_file). */
static int read_checkpoint(struct ls_store *s)
{
	char *data = NULL, *line, *save = NULL;
	size_t len;

	if (ls_read_file(s->dirfd, CKPT_FILE, &data, &len) == 0) {
		for (line = strtok_r(data, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			char name[300];
			unsigned long long rp, cp;
			uint64_t *v;

			if (sscanf(line, "%299s %llu %llu", name, &rp, &cp) != 3)
				continue;
			if ((v = ckpt_slot(s, name)) == NULL)
				break;
			v[0] = rp;
			v[1] = cp;
		}
		free(data);
		data = NULL;
	} else if (errno != ENOENT) {
		return LS_ERR_IO;
	}
	int rc = read_offsets_file(s, HW_FILE, 2, &s->hw_on);
	return rc == LS_OK ? read_offsets_file(s, LSO_FILE, 3, &s->lso_on) : rc;
}

int ls_store_checkpoint_lookup(struct ls_store *s, const char *dirname,
			       uint64_t *rp, uint64_t *cp, uint64_t *hw)
{
	uint64_t *v = tu_map_get(&s->ckpt, dirname, strlen(dirname));

	*rp = v ? v[0] : 0;
	*cp = v ? v[1] : 0;
	*hw = v ? v[2] : 0;
	return v ? LS_OK : LS_ERR_NOT_FOUND;
}

uint64_t ls_store_log_start_lookup(struct ls_store *s, const char *dirname)
{
	uint64_t *v = tu_map_get(&s->ckpt, dirname, strlen(dirname));
	return v ? v[3] : 0;
}

/* Writes the high-watermark (lso 0) or the log-start (lso 1) checkpoint
 * (fsynced).  LS_OK or LS_ERR_IO. */
static int write_offsets_file(struct ls_store *s, int lso)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = LS_ERR_NOMEM;

	if (f == NULL)
		return LS_ERR_NOMEM;
	fprintf(f, "1\n");
	for (size_t i = 0; i < s->ntopics; i++) {
		struct ls_topic *t = s->topics[i];

		for (int32_t j = 0; j < t->nparts; j++)
			fprintf(f, "%s %" PRIu64 "\n", t->parts[j]->dirname,
				lso ? t->parts[j]->log_start : t->parts[j]->hw);
	}
	if (fclose(f) != 0)
		goto out;
	rc = ls_atomic_write(s->dirfd, lso ? LSO_FILE : HW_FILE, buf, len) == 0 ? LS_OK : LS_ERR_IO;
out:
	free(buf);
	return rc;
}

static void free_ckpt_map(struct ls_store *s)
{
	struct tu_map_entry *e;
	size_t pos = 0;

	while ((e = tu_map_next(&s->ckpt, &pos)) != NULL)
		free(e->value);
	tu_map_free(&s->ckpt);
}

int ls_checkpoint(struct ls_store *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = LS_ERR_NOMEM;

	if (f == NULL)
		return LS_ERR_NOMEM;
	fprintf(f, "1\n");
	for (size_t i = 0; i < s->ntopics; i++) {
		struct ls_topic *t = s->topics[i];

		for (int32_t j = 0; j < t->nparts; j++)
			fprintf(f, "%s %" PRIu64 " %" PRIu64 "\n", t->parts[j]->dirname,
				t->parts[j]->flushed, t->parts[j]->cleaner_point);
	}
	if (fclose(f) != 0)
		goto out;
	rc = ls_atomic_write(s->dirfd, CKPT_FILE, buf, len) == 0 ? LS_OK : LS_ERR_IO;
	if (rc == LS_OK && s->hw_on)
		rc = write_offsets_file(s, 0);
	if (rc == LS_OK && s->lso_on)
		rc = write_offsets_file(s, 1);
	if (rc == LS_OK) {
		s->ckpt_dirty = 0;
		s->last_ckpt_ms = ls_now_ms(s);
	}
out:
	free(buf);
	return rc;
}

/* ---- open and close ---------------------------------------------------------- */

/* Moves partition folder `name` of no topic to quarantine/. 0/-1. */
static int quarantine_folder(struct ls_store *s, const char *name)
{
	char to[400];
	int qfd = ls_quarantine_dir(s, NULL), rc = -1;

	if (qfd < 0)
		return -1;
	snprintf(to, sizeof to, "%s.orphan-%" PRId64, name, ls_now_ms(s));
	if (renameat(s->dirfd, name, qfd, to) == 0 && ls_fsync_fd(qfd) == 0 &&
	    ls_fsync_fd(s->dirfd) == 0) {
		ls_warn(s, "partition folder %s belongs to no partition of its topic and holds "
			   "data: moved to %s/%s", name, QUARANTINE_DIR, to);
		rc = 0;
	}
	close(qfd);
	return rc;
}

/*
 * Partition folders that belong to no topic.  Data is never deleted: when
 * "<topic>.topic" is gone but a folder of the topic holds data, the
 * metadata is rebuilt from the folders (default config); a folder beyond
 * its topic's partition count that holds data goes to quarantine/.  Empty
 * ones (a create interrupted before its metadata file, the commit point)
 * and "*.deleted" ones (a delete interrupted after it) are removed, as
 * are leftover temp files.  LS_OK, or an error when a rebuild fails.
 */
static int adopt_orphans(struct ls_store *s, int clean, char *err, size_t errlen)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd = dup(s->dirfd), rc = LS_OK;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return LS_OK;
	}
	rewinddir(d); /* the dup shares its offset with dirfd */
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
			unlinkat(s->dirfd, de->d_name, 0);
			continue;
		}
		if (len >= 300 || de->d_name[0] == '.' || strcmp(de->d_name, QUARANTINE_DIR) == 0)
			continue;
		if (de->d_type != DT_DIR) {
			struct stat st;

			if (de->d_type != DT_UNKNOWN ||
			    fstatat(s->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISDIR(st.st_mode))
				continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = realloc(names, ncap * sizeof *nn);

			if (nn == NULL)
				break;
			names = nn;
			cap = ncap;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	/* The folder list is taken first: rebuilds and moves change it. */
	for (size_t i = 0; i < n && rc == LS_OK; i++) {
		char name[300], *dash, *end;
		size_t len = strlen(names[i]);
		struct ls_topic *t;
		long long idx;

		if (len > 8 && strcmp(names[i] + len - 8, ".deleted") == 0) {
			ls_remove_tree(s->dirfd, names[i]);
			continue;
		}
		memcpy(name, names[i], len + 1);
		dash = strrchr(name, '-');
		if (dash == NULL || dash == name || dash[1] < '0' || dash[1] > '9')
			continue;
		idx = strtoll(dash + 1, &end, 10);
		if (*end != '\0')
			continue;
		*dash = '\0';
		t = ls_topic_find(s, name);
		if (t != NULL && idx < t->nparts)
			continue;
		if (t == NULL && ls_topic_valid_name(name)) {
			int has_data;
			int32_t np = ls_topic_scan_partitions(s, name, &has_data);

			if (!has_data) { /* an interrupted create: nothing to keep */
				ls_remove_tree(s->dirfd, names[i]);
				continue;
			}
			ls_warn(s, "topic %s: metadata file %s.topic missing; rebuilt from the %" PRId32
				   " partition folders on disk with the default settings",
				name, name, np);
			t = ls_topic_rebuild(s, name, np, clean, err, errlen);
			if (t == NULL) {
				rc = LS_ERR_IO;
				break;
			}
			if (ls_store_insert_topic(s, t) != LS_OK) {
				ls_topic_free(t);
				rc = LS_ERR_NOMEM;
			}
			continue;
		}
		if (!ls_dir_has_data(s->dirfd, names[i])) { /* an interrupted grow */
			ls_remove_tree(s->dirfd, names[i]);
			continue;
		}
		if (quarantine_folder(s, names[i]) != 0) {
			tu_errf(err, errlen, "moving %s to %s: %s", names[i], QUARANTINE_DIR,
				   strerror(errno));
			rc = LS_ERR_IO;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int load_topics(struct ls_store *s, int clean, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int fd = dup(s->dirfd), rc = LS_OK;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		tu_errf(err, errlen, "read %s: %s", s->dir, strerror(errno));
		return LS_ERR_IO;
	}
	rewinddir(d); /* the dup shares its offset with dirfd */
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char name[300];
		struct ls_topic *t;

		if (len <= 6 || len >= sizeof name || strcmp(de->d_name + len - 6, ".topic") != 0)
			continue;
		memcpy(name, de->d_name, len - 6);
		name[len - 6] = '\0';
		if (!ls_topic_valid_name(name))
			continue;
		t = ls_topic_load(s, name, clean, err, errlen);
		if (t == NULL) {
			rc = LS_ERR_IO;
			break;
		}
		if (ls_store_insert_topic(s, t) != LS_OK) {
			ls_topic_free(t);
			rc = LS_ERR_NOMEM;
			break;
		}
	}
	closedir(d);
	return rc;
}

static void store_free(struct ls_store *s)
{
	for (size_t i = 0; i < s->ntopics; i++)
		ls_topic_free(s->topics[i]);
	free(s->topics);
	ls_offsets_free(s);
	free_ckpt_map(s);
	ls_encoder_free(&s->enc);
	ls_decoder_free(s->dec);
	free(s->scratch);
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	free(s->dir);
	free(s);
}

struct ls_store *ls_open(const char *dir, const struct ls_options *opt, char *err,
			 size_t errlen)
{
	struct ls_store *s = calloc(1, sizeof *s);
	int clean;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (s == NULL) {
		tu_errf(err, errlen, "out of memory");
		return NULL;
	}
	s->dirfd = s->lockfd = -1;
	if (opt != NULL)
		s->opt = *opt;
	else
		ls_options_init(&s->opt);
	tu_map_init(&s->ckpt);
	tu_map_init(&s->offsets);
	s->dir = strdup(dir);
	s->dec = ls_decoder_new(s->opt.max_inflated_bytes);
	if (s->dir == NULL || s->dec == NULL) {
		tu_errf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		tu_errf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		goto fail;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		tu_errf(err, errlen, "open %s: %s", dir, strerror(errno));
		goto fail;
	}
	s->lockfd = openat(s->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		tu_errf(err, errlen, "%s: %s", dir,
			   errno == EWOULDBLOCK ? ls_strerror(LS_ERR_LOCKED) : strerror(errno));
		goto fail;
	}
	clean = faccessat(s->dirfd, CLEAN_FILE, F_OK, 0) == 0;
	if (read_checkpoint(s) != LS_OK) {
		tu_errf(err, errlen, "read checkpoint: %s", strerror(errno));
		goto fail;
	}
	if (load_topics(s, clean, err, errlen) != LS_OK ||
	    adopt_orphans(s, clean, err, errlen) != LS_OK)
		goto fail;
	free_ckpt_map(s);
	s->offsets_topic = ls_topic_find(s, LS_INTERNAL_OFFSETS_TOPIC);
	if (s->offsets_topic == NULL) {
		static const struct ls_kv cfg[] = {
			{ "cleanup.policy", "compact" },
			{ "segment.bytes", "104857600" },
		};

		s->offsets_topic = ls_topic_create_internal(s, LS_INTERNAL_OFFSETS_TOPIC, 1,
							    cfg, 2, 1, err, errlen);
		if (s->offsets_topic == NULL)
			goto fail;
	}
	if (ls_offsets_load(s) != LS_OK) {
		tu_errf(err, errlen, "loading committed offsets failed");
		goto fail;
	}
	/* From here on a crash is an unclean shutdown. */
	if (clean && (unlinkat(s->dirfd, CLEAN_FILE, 0) != 0 || ls_fsync_fd(s->dirfd) != 0)) {
		tu_errf(err, errlen, "remove %s: %s", CLEAN_FILE, strerror(errno));
		goto fail;
	}
	s->last_ckpt_ms = ls_now_ms(s);
	return s;
fail:
	store_free(s);
	return NULL;
}

int ls_close(struct ls_store *s)
{
	int rc = LS_OK, r;

	if (s == NULL)
		return LS_OK;
	for (size_t i = 0; i < s->ntopics; i++) {
		struct ls_topic *t = s->topics[i];

		for (int32_t j = 0; j < t->nparts; j++) {
			r = ls_partition_close_sync(t->parts[j]);
			if (r != LS_OK && rc == LS_OK)
				rc = r;
		}
	}
	r = ls_checkpoint(s);
	if (r != LS_OK && rc == LS_OK)
		rc = r;
	if (rc == LS_OK && ls_atomic_write(s->dirfd, CLEAN_FILE, "", 0) != 0)
		rc = LS_ERR_IO;
	store_free(s);
	return rc;
}

/* ---- flush timer ------------------------------------------------------------- */

void ls_foreach_flush_due(struct ls_store *s, int64_t now_ms, ls_partition_fn fn,
			  void *ctx)
{
	for (size_t i = 0; i < s->ntopics; i++) {
		struct ls_topic *t = s->topics[i];

		for (int32_t j = 0; j < t->nparts; j++)
			if (ls_flush_due(t->parts[j], now_ms))
				fn(t->parts[j], ctx);
	}
}

int ls_flush_step(struct ls_store *s, int64_t now_ms)
{
	int rc = LS_OK;

	for (size_t i = 0; i < s->ntopics; i++) {
		struct ls_topic *t = s->topics[i];

		for (int32_t j = 0; j < t->nparts; j++)
			if (ls_flush_due(t->parts[j], now_ms)) {
				int r = ls_sync(t->parts[j]);

				if (r != LS_OK && rc == LS_OK)
					rc = r;
			}
	}
	if (s->ckpt_dirty && now_ms - s->last_ckpt_ms >= s->opt.checkpoint_interval_ms) {
		int r = ls_checkpoint(s);

		if (r != LS_OK && rc == LS_OK)
			rc = r;
	}
	return rc;
}

/* ---- producer ids ----------------------------------------------------------- */

int ls_producer_id_next(struct ls_store *s, int64_t *pid)
{
	if (s->pid_next == s->pid_end) {
		uint64_t start = s->pid_end;
		char *data = NULL, buf[32];
		size_t len;

		if (!s->pid_loaded) {
			if (ls_read_file(s->dirfd, PID_FILE, &data, &len) == 0)
				start = strtoull(data, NULL, 10);
			else if (errno != ENOENT)
				return LS_ERR_IO;
			free(data);
		}
		/* the end of the block is durable before an id of it goes out,
		 * so no id is handed out twice, whatever crashes */
		int n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", start + PID_BLOCK);
		if (ls_atomic_write(s->dirfd, PID_FILE, buf, (size_t)n) != 0)
			return LS_ERR_IO;
		s->pid_loaded = 1;
		s->pid_next = start;
		s->pid_end = start + PID_BLOCK;
	}
	*pid = (int64_t)s->pid_next++;
	return LS_OK;
}
