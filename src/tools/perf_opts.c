/*
 * tandem-perf: command-line options.  Every option is one row of
 * perf_options[] {long name, short letter, type, offset, default, min, max,
 * help}; defaults, parsing, range checks and --help all come from that
 * table, so adding an option is adding a row.  Flag letters follow
 * RabbitMQ's PerfTest where it has one.
 *
 * Must not depend on: any client library.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/perf.h"

enum opt_type {
	OT_BOOL,   /* bool, no argument */
	OT_INT,    /* int */
	OT_COUNT,  /* uint64_t, plain integer */
	OT_BYTES,  /* uint64_t, accepts k/K/KiB, m/M/MiB (binary) */
	OT_DOUBLE, /* double */
	OT_STR,    /* char *, owned */
	OT_KV,     /* key=value[,key=value] appended to queue_args */
};

struct opt_row {
	const char *name;
	int letter; /* 0 = long only */
	enum opt_type type;
	size_t offset;
	const char *def; /* NULL = none (zero) */
	double min, max;
	const char *arg;  /* argument name in --help */
	const char *help;
};

#define OFF(f) offsetof(struct perf_opts, f)

static const struct opt_row perf_options[] = {
	{ "mode", 'M', OT_STR, OFF(mode), "amqp", 0, 0, "MODE",
	  "client mode: amqp (AMQP 0-9-1, rabbitmq-c) or log (Kafka protocol, librdkafka)" },
	{ "uri", 'h', OT_STR, OFF(uri), NULL, 0, 0, "URI",
	  "broker: host:port, or amqp://user:pass@host:port/vhost [amqp://guest:guest@127.0.0.1:5672/;"
	  " log: 127.0.0.1:9092]" },
	{ "consumer-uri", 0, OT_STR, OFF(consumer_uri), "", 0, 0, "URI",
	  "amqp: consumers connect here instead (a cluster: another node than the producers')" },
	{ "setup-uri", 0, OT_STR, OFF(setup_uri), "", 0, 0, "URI",
	  "amqp: declare the exchange and queues here instead (a cluster: the queues' home node)" },
	{ "tls", 0, OT_BOOL, OFF(tls), NULL, 0, 0, NULL,
	  "connect over TLS (amqp: AMQPS with rabbitmq-c's SSL socket; log: security.protocol=ssl)" },
	{ "cacert", 0, OT_STR, OFF(cacert), "", 0, 0, "FILE",
	  "TLS: verify the broker's certificate and host name against these CAs (PEM); \"\" = no verification" },
	{ "cert", 0, OT_STR, OFF(cert), "", 0, 0, "FILE", "TLS: client certificate (PEM), with --key" },
	{ "key", 0, OT_STR, OFF(key), "", 0, 0, "FILE", "TLS: client private key (PEM), with --cert" },
	{ "producers", 'x', OT_INT, OFF(producers), "1", 0, 1000, "N", "producer threads, one connection each" },
	{ "consumers", 'y', OT_INT, OFF(consumers), "1", 0, 1000, "N",
	  "consumer threads, one connection each, spread round-robin over the queues" },
	{ "size", 's', OT_BYTES, OFF(size), "100", 0, 128.0 * 1024 * 1024, "BYTES",
	  "message body size (at least 32: the stamp)" },
	{ "rate", 'r', OT_DOUBLE, OFF(rate), "0", 0, 1e9, "MSG/S", "publish rate per producer, 0 = unlimited" },
	{ "time", 'z', OT_DOUBLE, OFF(duration), NULL, 0, 1e6, "SECONDS",
	  "publish for this long (default 10 unless -C is given)" },
	{ "pmessages", 'C', OT_COUNT, OFF(count), "0", 0, 1e15, "N", "messages per producer, 0 = until -z" },
	{ "confirm", 'c', OT_INT, OFF(confirm), "0", 0, 10000000, "N",
	  "publisher confirms with at most N unconfirmed, 0 = off (log: records in flight, 0 = 1000000)" },
	{ "autoack", 'a', OT_BOOL, OFF(autoack), NULL, 0, 0, NULL, "consume with no-ack (autoack)" },
	{ "qos", 'q', OT_INT, OFF(prefetch), "0", 0, 65535, "N", "consumer prefetch, 0 = unlimited" },
	{ "multi-ack-every", 'A', OT_INT, OFF(multi_ack), "1", 1, 1000000, "N",
	  "manual ack: ack with multiple=true every N deliveries (1 = each)" },
	{ "persistent", 'f', OT_BOOL, OFF(persistent), NULL, 0, 0, NULL, "publish with delivery-mode 2" },
	{ "durable", 'd', OT_BOOL, OFF(durable), NULL, 0, 0, NULL, "declare durable queues and exchange" },
	{ "fanout", 'K', OT_INT, OFF(queues), "1", 1, 100000, "K",
	  "K queues, each bound with the routing key: every message reaches all K" },
	{ "exchange", 'e', OT_STR, OFF(exchange), "tandem-perf", 0, 0, "NAME",
	  "exchange to publish to; \"\" = default exchange (routing key = queue name)" },
	{ "type", 't', OT_STR, OFF(exchange_type), "direct", 0, 0, "TYPE", "exchange type: direct, fanout, topic, headers" },
	{ "routing-key", 'k', OT_STR, OFF(routing_key), "perf", 0, 0, "KEY", "routing key and binding key" },
	{ "queue", 'u', OT_STR, OFF(queue), "tandem-perf", 0, 0, "PREFIX", "queue names are PREFIX-0 .. PREFIX-(K-1)" },
	{ "queue-args", 'X', OT_KV, OFF(queue_args), NULL, 0, 0, "K=V[,K=V]",
	  "queue arguments, e.g. x-queue-type=stream (integers and true/false typed)" },
	{ "consumer-args", 0, OT_KV, OFF(consumer_args), NULL, 0, 0, "K=V[,K=V]",
	  "basic.consume arguments, e.g. x-stream-offset=first (typed as --queue-args)" },
	{ "consume-later", 0, OT_BOOL, OFF(consume_later), NULL, 0, 0, NULL,
	  "consumers start reading only when every producer is done (a backlog read from the start);"
	  " their rate counts from then" },
	{ "topic", 0, OT_STR, OFF(topic), "tandem-perf", 0, 0, "NAME", "log: topic, created with --partitions" },
	{ "partitions", 'P', OT_INT, OFF(partitions), "1", 1, 100000, "N",
	  "log: partitions; producers spread records round robin, consumers split them" },
	{ "replication-factor", 0, OT_INT, OFF(replication_factor), "1", -1, 1000, "N",
	  "log: replicas of the topic it creates (a cluster; -1 = the broker's default)" },
	{ "linger-ms", 0, OT_DOUBLE, OFF(linger_ms), "5", 0, 900000, "MS", "log: producer linger.ms" },
	{ "batch-size", 0, OT_BYTES, OFF(batch_size), "1m", 1, 2147483647, "BYTES", "log: producer batch.size" },
	{ "batch-num-messages", 0, OT_INT, OFF(batch_num), "10000", 1, 1000000, "N",
	  "log: producer batch.num.messages" },
	{ "acks", 0, OT_STR, OFF(acks), "1", 0, 0, "0|1|all", "log: producer acks" },
	{ "compression", 0, OT_STR, OFF(compression), "none", 0, 0, "CODEC",
	  "log: none, gzip, snappy, lz4 or zstd (compression.codec)" },
	{ "idempotence", 0, OT_BOOL, OFF(idempotence), NULL, 0, 0, NULL,
	  "log: idempotent producers (enable.idempotence; the broker checks sequences; needs --acks all)" },
	{ "transactional-id", 0, OT_STR, OFF(transactional_id), "", 0, 0, "ID",
	  "log: transactional producers (transactional.id ID, or ID-<i> with several): init once, then"
	  " begin, --txn-records records, commit, until the run ends; only committed records count" },
	{ "txn-records", 0, OT_COUNT, OFF(txn_records), "10000", 1, 1e9, "N",
	  "log: records per transaction with --transactional-id" },
	{ "isolation-level", 0, OT_STR, OFF(isolation_level), "read_committed", 0, 0, "LEVEL",
	  "log: consumers' isolation.level, read_committed (librdkafka's default) or read_uncommitted" },
	{ "fetch-wait-ms", 0, OT_INT, OFF(fetch_wait_ms), "100", 0, 300000, "MS",
	  "log: consumer fetch.wait.max.ms (how long the broker may hold an empty Fetch)" },
	{ "group", 'G', OT_STR, OFF(group), "", 0, 0, "NAME",
	  "log: consumers subscribe as this group; \"\" = each assigns its share of the partitions from the start" },
	{ "batch", 'b', OT_INT, OFF(batch), "1", 1, 100000, "N", "producer: messages coalesced into one socket write" },
	{ "drain-timeout", 'D', OT_DOUBLE, OFF(drain_timeout), "60", 0, 1e6, "SECONDS",
	  "after publishing, wait at most this long for confirms and deliveries" },
	{ "max-time", 'T', OT_DOUBLE, OFF(max_time), "900", 1, 1e6, "SECONDS", "hard bound on the whole run" },
	{ "interval", 'i', OT_DOUBLE, OFF(interval), "1", 0, 3600, "SECONDS", "progress line period on stderr, 0 = none" },
	{ "declare-only", 0, OT_BOOL, OFF(declare_only), NULL, 0, 0, NULL,
	  "declare queues/exchange/bindings, keep them, and exit" },
	{ "no-cleanup", 0, OT_BOOL, OFF(no_cleanup), NULL, 0, 0, NULL, "keep queues and exchange after the run" },
	{ "help", 0, OT_BOOL, OFF(help), NULL, 0, 0, NULL, "this text" },
};

#define N_OPTIONS (sizeof(perf_options) / sizeof(perf_options[0]))

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_number(const struct opt_row *r, const char *s, double *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno)
		return fail(err, errlen, "--%s: not a number: '%s'", r->name, s);
	if (r->type == OT_BYTES) {
		if (!strcasecmp(end, "k") || !strcasecmp(end, "kib"))
			v *= 1024, end += strlen(end);
		else if (!strcasecmp(end, "m") || !strcasecmp(end, "mib"))
			v *= 1024 * 1024, end += strlen(end);
		else if (!strcasecmp(end, "b"))
			end++;
	}
	if (*end)
		return fail(err, errlen, "--%s: trailing '%s' in '%s'", r->name, end, s);
	if (r->type != OT_DOUBLE && v != floor(v))
		return fail(err, errlen, "--%s: not an integer: '%s'", r->name, s);
	if (!isfinite(v) || v < r->min || v > r->max)
		return fail(err, errlen, "--%s: %s is outside [%g, %g]", r->name, s, r->min, r->max);
	*out = v;
	return 0;
}

static int add_kv(struct perf_opts *o, const struct opt_row *r, const char *s, char *err, size_t errlen)
{
	bool consume = r->offset == OFF(consumer_args);
	struct perf_kv **arr = consume ? &o->consumer_args : &o->queue_args;
	size_t *cnt = consume ? &o->n_consumer_args : &o->n_queue_args;
	while (*s) {
		size_t n = strcspn(s, ",");
		const char *eq = memchr(s, '=', n);
		if (!eq || eq == s)
			return fail(err, errlen, "--%s: expected key=value, got '%.*s'", r->name, (int)n, s);
		struct perf_kv *kv = realloc(*arr, (*cnt + 1) * sizeof(*kv));
		if (!kv)
			return fail(err, errlen, "out of memory");
		*arr = kv;
		kv += *cnt;
		kv->key = strndup(s, (size_t)(eq - s));
		kv->value = strndup(eq + 1, n - (size_t)(eq - s) - 1);
		(*cnt)++;
		if (!kv->key || !kv->value)
			return fail(err, errlen, "out of memory");
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

static int set_value(struct perf_opts *o, const struct opt_row *r, const char *s, char *err, size_t errlen)
{
	void *p = (char *)o + r->offset;
	double v = 0;
	switch (r->type) {
	case OT_BOOL:
		*(bool *)p = true;
		return 0;
	case OT_STR: {
		char *dup = strdup(s);
		if (!dup)
			return fail(err, errlen, "out of memory");
		free(*(char **)p);
		*(char **)p = dup;
		return 0;
	}
	case OT_KV:
		return add_kv(o, r, s, err, errlen);
	default:
		break;
	}
	if (parse_number(r, s, &v, err, errlen) < 0)
		return -1;
	if (r->type == OT_INT)
		*(int *)p = (int)v;
	else if (r->type == OT_DOUBLE)
		*(double *)p = v;
	else
		*(uint64_t *)p = (uint64_t)v;
	return 0;
}

void perf_opts_usage(FILE *out)
{
	fprintf(out, "usage: tandem-perf [options]\n"
		     "Publishes stamped messages and consumes them, reporting rates, end-to-end\n"
		     "latency percentiles and verified counts (lost, duplicated, reordered).\n\n");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct opt_row *r = &perf_options[i];
		char lhs[64];
		if (r->letter)
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", r->letter, r->name, r->arg ? " " : "",
				 r->arg ? r->arg : "");
		else
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", r->name, r->arg ? " " : "", r->arg ? r->arg : "");
		fprintf(out, "  %-30s %s", lhs, r->help);
		if (r->def && r->type != OT_BOOL)
			fprintf(out, " [%s]", r->def);
		fputc('\n', out);
	}
	fprintf(out, "\nStdout ends with one line 'result key=value ...'; exit status 1 when a\n"
		     "message was lost or duplicated or a worker failed, 2 on bad options.\n");
}

int perf_opts_parse(struct perf_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	struct option longopts[N_OPTIONS + 1];
	char shortopts[3 * N_OPTIONS + 2];
	size_t sp = 0;
	memset(o, 0, sizeof(*o));
	shortopts[sp++] = ':';
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct opt_row *r = &perf_options[i];
		longopts[i] = (struct option){ r->name, r->type == OT_BOOL ? no_argument : required_argument, NULL,
					       r->letter ? r->letter : 256 + (int)i };
		if (r->letter) {
			shortopts[sp++] = (char)r->letter;
			if (r->type != OT_BOOL)
				shortopts[sp++] = ':';
		}
		if (r->def && set_value(o, r, r->def, err, errlen) < 0)
			return -1; /* a bad default is a bug in the table */
	}
	memset(&longopts[N_OPTIONS], 0, sizeof(longopts[0]));
	shortopts[sp] = '\0';

	bool time_given = false;
	optind = 1;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (c == -1)
			break;
		if (c == '?')
			return fail(err, errlen, "unknown option '%s' (try --help)", argv[optind - 1]);
		if (c == ':')
			return fail(err, errlen, "option '%s' needs an argument", argv[optind - 1]);
		const struct opt_row *r = NULL;
		for (size_t i = 0; i < N_OPTIONS && !r; i++)
			if ((perf_options[i].letter && perf_options[i].letter == c) || 256 + (int)i == c)
				r = &perf_options[i];
		if (!r)
			return fail(err, errlen, "unknown option '%s' (try --help)", argv[optind - 1]);
		if (set_value(o, r, optarg, err, errlen) < 0)
			return -1;
		if (r->offset == OFF(duration))
			time_given = true;
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
	if (o->help) {
		perf_opts_usage(stdout);
		return 1;
	}
	if (!time_given && !o->count)
		o->duration = 10;
	bool log_mode = !strcmp(o->mode, "log");
	if (!o->uri && !(o->uri = strdup(log_mode ? "127.0.0.1:9092" : "amqp://guest:guest@127.0.0.1:5672/")))
		return fail(err, errlen, "out of memory");
	if (log_mode && !o->confirm)
		o->confirm = 1000000; /* every record is acknowledged (delivery reports) */
	if (o->size < PERF_STAMP_SIZE) {
		fprintf(stderr, "tandem-perf: size %llu raised to %d, the stamp every message carries\n",
			(unsigned long long)o->size, PERF_STAMP_SIZE);
		o->size = PERF_STAMP_SIZE;
	}
	if (!strncmp(o->uri, "amqps://", 8) || !strncmp(o->uri, "ssl://", 6))
		o->tls = true;
	if (!o->tls && (*o->cacert || *o->cert || *o->key))
		return fail(err, errlen, "--cacert, --cert and --key go with --tls");
	if (!*o->cert != !*o->key)
		return fail(err, errlen, "--cert and --key go together");
	if (!*o->exchange && o->queues > 1)
		return fail(err, errlen, "--fanout needs an exchange: the default exchange routes to one queue");
	if (o->consumers > 0 && o->consumers < o->queues)
		fprintf(stderr, "tandem-perf: %d consumers for %d queues: unconsumed queues are not checked\n",
			o->consumers, o->queues);
	return 0;
}

void perf_opts_free(struct perf_opts *o)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct opt_row *r = &perf_options[i];
		if (r->type == OT_STR) {
			char **p = (char **)((char *)o + r->offset);
			free(*p);
			*p = NULL;
		}
	}
	for (size_t i = 0; i < o->n_queue_args; i++) {
		free(o->queue_args[i].key);
		free(o->queue_args[i].value);
	}
	free(o->queue_args);
	o->queue_args = NULL;
	o->n_queue_args = 0;
	for (size_t i = 0; i < o->n_consumer_args; i++) {
		free(o->consumer_args[i].key);
		free(o->consumer_args[i].value);
	}
	free(o->consumer_args);
	o->consumer_args = NULL;
	o->n_consumer_args = 0;
}
