/*
 * The Kafka listeners as Kafka configures them: `listeners =
 * PLAINTEXT://host:port,SSL://host:port,SASL_PLAINTEXT://..,SASL_SSL://..`
 * (server.properties), and the TLS context of the SSL and SASL_SSL
 * listeners from Kafka's ssl.* keys with PEM files.
 *
 * Must not depend on: src/amqp, src/http.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "kafka/kafka.h"
#include "net/tls.h"

/* Kafka's security protocol names, in enum tdm_kafka_security order; the
 * first NAMED are the ones `listeners` accepts (not the cluster link's). */
static const char *const security_names[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL",
					      "CLUSTER" };
#define NAMED (TDM_KAFKA_SASL_SSL + 1)

const char *tdm_kafka_security_name(enum tdm_kafka_security s)
{
	return (unsigned)s < sizeof(security_names) / sizeof(security_names[0]) ? security_names[s]
										: "?";
}

/* One "NAME://host:port" of the list (p[0..n)) into l; 0 or -1 with err. */
static int parse_one(const struct tdm_config *cfg, const char *p, size_t n,
		     struct tdm_kafka_listener *l, char *err, size_t errlen)
{
	const char *sep = NULL, *hp, *colon, *end = p + n;
	char num[8];
	size_t hl, i;
	int s = -1;

	for (const char *q = p; q + 3 <= end; q++)
		if (memcmp(q, "://", 3) == 0) {
			sep = q;
			break;
		}
	if (!sep) {
		snprintf(err, errlen, "listeners: '%.*s' is not NAME://HOST:PORT", (int)n, p);
		return -1;
	}
	for (i = 0; i < NAMED; i++)
		if (strlen(security_names[i]) == (size_t)(sep - p) &&
		    strncasecmp(p, security_names[i], (size_t)(sep - p)) == 0)
			s = (int)i;
	if (s < 0) {
		snprintf(err, errlen,
			 "listeners: '%.*s' is not a listener name tandem knows (PLAINTEXT, SSL, "
			 "SASL_PLAINTEXT, SASL_SSL)",
			 (int)(sep - p), p);
		return -1;
	}
	hp = sep + 3;
	colon = NULL;
	for (const char *q = end; q > hp; q--)
		if (q[-1] == ':') {
			colon = q - 1;
			break;
		}
	if (!colon || end - colon - 1 < 1 || end - colon - 1 > 5) {
		snprintf(err, errlen, "listeners: '%.*s' has no port", (int)n, p);
		return -1;
	}
	memcpy(num, colon + 1, (size_t)(end - colon - 1));
	num[end - colon - 1] = '\0';
	char *e;
	long port = strtol(num, &e, 10);
	if (*e || port < 0 || port > 65535) {
		snprintf(err, errlen, "listeners: '%s' is not a port (0 .. 65535)", num);
		return -1;
	}
	hl = (size_t)(colon - hp);
	if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') { /* [::1] */
		hp++;
		hl -= 2;
	}
	if (hl >= sizeof(l->host)) {
		snprintf(err, errlen, "listeners: host '%.*s' is too long", (int)hl, hp);
		return -1;
	}
	if (hl == 0)
		snprintf(l->host, sizeof(l->host), "%s", cfg->bind_address);
	else
		snprintf(l->host, sizeof(l->host), "%.*s", (int)hl, hp);
	l->security = (enum tdm_kafka_security)s;
	l->port = (int)port;
	return 0;
}

int tdm_kafka_listeners(const struct tdm_config *cfg, struct tdm_kafka_listener *out, int max,
			char *err, size_t errlen)
{
	const char *p = cfg->kafka_listeners ? cfg->kafka_listeners : "", *p0 = p;
	int n = 0;

	if (!*p) {
		if (!cfg->kafka_port || max < 1)
			return 0;
		snprintf(out[0].host, sizeof(out[0].host), "%s", cfg->bind_address);
		out[0].port = cfg->kafka_port;
		/* kafka_sasl_required makes the one listener a SASL_PLAINTEXT one */
		out[0].security =
			cfg->kafka_sasl_required ? TDM_KAFKA_SASL_PLAINTEXT : TDM_KAFKA_PLAINTEXT;
		n = 1;
	}
	while (*p) {
		size_t len = strcspn(p, ",");

		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		size_t tl = len;
		while (tl && (p[tl - 1] == ' ' || p[tl - 1] == '\t'))
			tl--;
		if (tl) {
			if (n == max) {
				snprintf(err, errlen, "listeners: more than %d listeners", max);
				return -1;
			}
			if (parse_one(cfg, p, tl, &out[n], err, errlen) < 0)
				return -1;
			for (int i = 0; i < n; i++)
				if (out[i].security == out[n].security) {
					/* Kafka: listener names must be unique */
					snprintf(err, errlen, "listeners: %s is listed twice",
						 security_names[out[n].security]);
					return -1;
				}
			n++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	for (int i = 0; i < n; i++)
		if ((out[i].security == TDM_KAFKA_SASL_PLAINTEXT ||
		     out[i].security == TDM_KAFKA_SASL_SSL) &&
		    (!cfg->kafka_sasl_mechanisms || !*cfg->kafka_sasl_mechanisms)) {
			snprintf(err, errlen, "%s: %s needs kafka_sasl_mechanisms",
				 *p0 ? "listeners" : "kafka_sasl_required",
				 security_names[out[i].security]);
			return -1;
		}
	return n;
}

int tdm_kafka_cluster_listener(const struct tdm_config *cfg, struct tdm_kafka_listener *out,
			       char *err, size_t errlen)
{
	struct tdm_kafka_listener ls[TDM_KAFKA_MAX_LISTENERS];
	int n;

	if (!cfg->cluster_port)
		return 0;
	n = tdm_kafka_listeners(cfg, ls, TDM_KAFKA_MAX_LISTENERS, err, errlen);
	if (n < 0)
		return -1;
	/* where the other nodes reach this one: its advertised host */
	snprintf(out->host, sizeof(out->host), "%s",
		 cfg->advertised_host && *cfg->advertised_host ? cfg->advertised_host
		 : n > 0                                       ? ls[0].host
							       : cfg->bind_address);
	out->port = (int)cfg->cluster_port;
	out->security = TDM_KAFKA_CLUSTER;
	return 1;
}

struct tdm_tls *tdm_kafka_tls(const struct tdm_config *cfg, char *err, size_t errlen)
{
	const char *auth = cfg->kafka_ssl_client_auth ? cfg->kafka_ssl_client_auth : "none";
	const char *ks = cfg->kafka_ssl_keystore_location;
	const char *ts = cfg->kafka_ssl_truststore_location;
	struct tdm_tls_conf tc = {
		.name = "ssl",
		.certfile = ks,
		.keyfile = ks, /* Kafka's PEM keystore holds both */
		.cacertfile = ts,
		.password = cfg->kafka_ssl_key_password,
		.versions = cfg->kafka_ssl_enabled_protocols,
		.depth = 10,
		.certfile_key = "ssl.keystore.location",
		.keyfile_key = "ssl.keystore.location",
		.cacertfile_key = "ssl.truststore.location",
	};

	if (strcasecmp(cfg->kafka_ssl_keystore_type, "PEM") != 0) {
		snprintf(err, errlen,
			 "ssl.keystore.type: %s is not supported: give a PEM file (key and "
			 "certificate chain) with ssl.keystore.type = PEM",
			 cfg->kafka_ssl_keystore_type);
		return NULL;
	}
	if (strcasecmp(cfg->kafka_ssl_truststore_type, "PEM") != 0) {
		snprintf(err, errlen,
			 "ssl.truststore.type: %s is not supported: give a PEM file of CA "
			 "certificates with ssl.truststore.type = PEM",
			 cfg->kafka_ssl_truststore_type);
		return NULL;
	}
	if (!ks || !*ks) {
		snprintf(err, errlen,
			 "an SSL or SASL_SSL listener in listeners needs ssl.keystore.location");
		return NULL;
	}
	if (strcmp(auth, "required") == 0) {
		tc.verify = "verify_peer";
		tc.fail_if_no_peer_cert = 1;
	} else if (strcmp(auth, "requested") == 0) {
		tc.verify = "verify_peer";
	} else if (strcmp(auth, "none") == 0) {
		tc.verify = "verify_none";
	} else {
		snprintf(err, errlen, "ssl.client.auth: '%s' is not required, requested or none",
			 auth);
		return NULL;
	}
	if (strcmp(tc.verify, "verify_peer") == 0 && (!ts || !*ts)) {
		snprintf(err, errlen, "ssl.client.auth = %s needs ssl.truststore.location", auth);
		return NULL;
	}
	return tdm_tls_new(&tc, err, errlen);
}
