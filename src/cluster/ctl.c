/*
 * The controller's rules (ctl.h): assignment, validation, leader election
 * and the partition-state changes of Kafka's ZooKeeper-era controller, as
 * pure functions over the live broker set.
 *
 * Must not depend on: libevent, pthreads, ZooKeeper, the front ends.
 */
#include "cluster/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/replica.h"

static int cmp_id(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

void ctl_brokers_sort(struct ctl_brokers *b)
{
	size_t i, n = 0;

	if (b->n == 0)
		return;
	qsort(b->ids, b->n, sizeof(*b->ids), cmp_id);
	for (i = 0; i < b->n; i++)
		if (n == 0 || b->ids[n - 1] != b->ids[i])
			b->ids[n++] = b->ids[i];
	b->n = n;
}

bool ctl_brokers_has(const struct ctl_brokers *b, int32_t id)
{
	return b->n > 0 && bsearch(&id, b->ids, b->n, sizeof(*b->ids), cmp_id) != NULL;
}

static bool ids_has(const int32_t *ids, size_t n, int32_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

void ctl_assignment_free(struct ctl_assignment *a)
{
	size_t i;

	for (i = 0; a->parts && i < a->nparts; i++)
		free(a->parts[i].ids);
	free(a->parts);
	a->parts = NULL;
	a->nparts = 0;
}

/* AdminUtils.replicaIndex: the j-th follower of a partition whose first
 * replica is at first, shifted by shift. */
static size_t replica_index(size_t first, size_t shift, size_t j, size_t n)
{
	return (first + 1 + (shift + j) % (n - 1)) % n;
}

int ctl_assign(const struct ctl_brokers *brokers, int32_t nparts, int32_t rf, int32_t fixed_start,
	       int32_t start_part, struct ctl_assignment *out)
{
	struct ctl_brokers sorted = { NULL, 0 };
	size_t n, start, shift, i, j, part;
	int rc = CTL_ERR_NOMEM;

	out->parts = NULL;
	out->nparts = 0;
	if (nparts <= 0)
		return CTL_ERR_INVALID_PARTITIONS;
	if (rf <= 0 || (size_t)rf > brokers->n)
		return CTL_ERR_INVALID_REPLICATION_FACTOR;
	sorted.ids = malloc(brokers->n * sizeof(*sorted.ids));
	if (!sorted.ids)
		goto out;
	memcpy(sorted.ids, brokers->ids, brokers->n * sizeof(*sorted.ids));
	sorted.n = brokers->n;
	ctl_brokers_sort(&sorted);
	n = sorted.n;
	if ((size_t)rf > n) {
		rc = CTL_ERR_INVALID_REPLICATION_FACTOR;
		goto out;
	}
	out->parts = calloc((size_t)nparts, sizeof(*out->parts));
	if (!out->parts)
		goto out;
	out->nparts = (size_t)nparts;
	start = fixed_start >= 0 ? (size_t)fixed_start : (size_t)random() % n;
	shift = fixed_start >= 0 ? (size_t)fixed_start : (size_t)random() % n;
	part = start_part > 0 ? (size_t)start_part : 0;
	for (i = 0; i < (size_t)nparts; i++, part++) {
		struct ctl_replicas *r = &out->parts[i];
		size_t first;

		if (part > 0 && part % n == 0)
			shift++;
		first = (part + start) % n;
		r->ids = malloc((size_t)rf * sizeof(*r->ids));
		if (!r->ids)
			goto out;
		r->n = (size_t)rf;
		r->ids[0] = sorted.ids[first];
		for (j = 0; j + 1 < (size_t)rf; j++)
			r->ids[j + 1] = sorted.ids[replica_index(first, shift, j, n)];
	}
	rc = 0;
out:
	if (rc != 0)
		ctl_assignment_free(out);
	free(sorted.ids);
	return rc;
}

int ctl_assign_more(const struct ctl_brokers *brokers, const struct ctl_assignment *existing,
		    int32_t total, struct ctl_assignment *out)
{
	struct ctl_brokers sorted = { NULL, 0 };
	size_t start = 0;
	int rc;

	out->parts = NULL;
	out->nparts = 0;
	if (existing->nparts == 0 || existing->parts[0].n == 0)
		return CTL_ERR_UNKNOWN_TOPIC;
	if (total <= 0 || (size_t)total <= existing->nparts)
		return CTL_ERR_INVALID_PARTITIONS;
	if (brokers->n > 0) {
		sorted.ids = malloc(brokers->n * sizeof(*sorted.ids));
		if (!sorted.ids)
			return CTL_ERR_NOMEM;
		memcpy(sorted.ids, brokers->ids, brokers->n * sizeof(*sorted.ids));
		sorted.n = brokers->n;
		ctl_brokers_sort(&sorted);
		/* max(0, allBrokers.indexWhere(_.id >= partition 0's leader)) */
		while (start < sorted.n && sorted.ids[start] < existing->parts[0].ids[0])
			start++;
		if (start == sorted.n)
			start = 0;
	}
	rc = ctl_assign(&sorted, total - (int32_t)existing->nparts, (int32_t)existing->parts[0].n,
			(int32_t)start, (int32_t)existing->nparts, out);
	free(sorted.ids);
	return rc;
}

int ctl_validate_assignment(const struct ctl_assignment *a, const struct ctl_brokers *brokers,
			    int32_t expected_rf, char *err, size_t errlen)
{
	size_t p, i;
	char dummy[1];

	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (a->nparts == 0) {
		snprintf(err, errlen, "No partitions in the replica assignment.");
		return CTL_ERR_INVALID_REPLICA_ASSIGNMENT;
	}
	if (expected_rf < 0)
		expected_rf = (int32_t)a->parts[0].n;
	for (p = 0; p < a->nparts; p++) {
		const struct ctl_replicas *r = &a->parts[p];

		if (r->n == 0) {
			snprintf(err, errlen,
				 "Cannot have replication factor of 0 for partition id %zu.", p);
			return CTL_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
		for (i = 0; i < r->n; i++) {
			if (ids_has(r->ids, i, r->ids[i])) {
				snprintf(err, errlen,
					 "Duplicate brokers not allowed in replica assignment: "
					 "broker %d for partition id %zu.",
					 (int)r->ids[i], p);
				return CTL_ERR_INVALID_REPLICA_ASSIGNMENT;
			}
			if (!ctl_brokers_has(brokers, r->ids[i])) {
				snprintf(
					err, errlen,
					"The manual partition assignment includes broker %d, but no "
					"such broker is registered.",
					(int)r->ids[i]);
				return CTL_ERR_INVALID_REPLICA_ASSIGNMENT;
			}
		}
		if (r->n != (size_t)expected_rf) {
			snprintf(err, errlen,
				 "Inconsistent replication factor between partitions, partition 0 "
				 "has %d while partition %zu has %zu.",
				 (int)expected_rf, p, r->n);
			return CTL_ERR_INVALID_REPLICA_ASSIGNMENT;
		}
	}
	return 0;
}

void ctl_part_free(struct ctl_part *p)
{
	free(p->isr);
	p->isr = NULL;
	p->nisr = 0;
}

void ctl_part_view(const struct ctl_part *p, struct tdm_partition_state *out)
{
	out->leader = p->leader;
	out->leader_epoch = p->leader_epoch;
	out->controller_epoch = p->controller_epoch;
	out->version = p->version;
	out->replicas = p->replicas;
	out->nreplicas = p->nreplicas;
	out->isr = p->isr;
	out->nisr = p->nisr;
}

int32_t ctl_elect(const int32_t *replicas, size_t nreplicas, const int32_t *isr, size_t nisr,
		  const struct ctl_brokers *live, bool unclean_enabled, bool *unclean)
{
	size_t i;

	if (unclean)
		*unclean = false;
	for (i = 0; i < nreplicas; i++)
		if (ctl_brokers_has(live, replicas[i]) && ids_has(isr, nisr, replicas[i]))
			return replicas[i];
	if (!unclean_enabled)
		return CTL_NO_LEADER;
	for (i = 0; i < nreplicas; i++)
		if (ctl_brokers_has(live, replicas[i])) {
			if (unclean)
				*unclean = true;
			return replicas[i];
		}
	return CTL_NO_LEADER;
}

/* The ISR members in live, in ISR order, into out (room for p->nisr);
 * returns how many. */
static size_t live_isr(const struct ctl_part *p, const struct ctl_brokers *live, int32_t *out)
{
	size_t i, n = 0;

	for (i = 0; i < p->nisr; i++)
		if (ctl_brokers_has(live, p->isr[i]))
			out[n++] = p->isr[i];
	return n;
}

int ctl_reconcile(struct ctl_part *p, const struct ctl_brokers *live, bool unclean_enabled,
		  int32_t cepoch)
{
	int32_t leader = p->leader, *isr;
	size_t nisr;
	bool unclean = false;

	if (p->controller_epoch > cepoch)
		return CTL_ERR_STALE_CONTROLLER;
	isr = malloc((p->nisr ? p->nisr : 1) * sizeof(*isr));
	if (!isr)
		return CTL_ERR_NOMEM;
	if (leader == CTL_NO_LEADER || !ctl_brokers_has(live, leader))
		leader = ctl_elect(p->replicas, p->nreplicas, p->isr, p->nisr, live,
				   unclean_enabled, &unclean);
	if (unclean) {
		isr[0] = leader;
		nisr = 1;
	} else {
		nisr = live_isr(p, live, isr);
		if (nisr == 0) { /* the last members stay, to come back as leaders */
			memcpy(isr, p->isr, p->nisr * sizeof(*isr));
			nisr = p->nisr;
		}
	}
	if (leader == p->leader && nisr == p->nisr &&
	    memcmp(isr, p->isr, nisr * sizeof(*isr)) == 0) {
		free(isr);
		return 0;
	}
	free(p->isr);
	p->isr = isr;
	p->nisr = nisr;
	p->leader = leader;
	p->leader_epoch++;
	p->controller_epoch = cepoch;
	return 1;
}

int ctl_prefer_leader(struct ctl_part *p, const struct ctl_brokers *live, int32_t cepoch)
{
	if (p->controller_epoch > cepoch)
		return CTL_ERR_STALE_CONTROLLER;
	if (p->nreplicas == 0)
		return 0;
	int32_t preferred = p->replicas[0];
	if (p->leader == preferred || p->leader == CTL_NO_LEADER ||
	    !ctl_brokers_has(live, preferred) || !ids_has(p->isr, p->nisr, preferred))
		return 0; /* an offline partition is ctl_reconcile's */
	p->leader = preferred;
	p->leader_epoch++;
	p->controller_epoch = cepoch;
	return 1;
}

int ctl_bounced(struct ctl_part *p, const struct ctl_brokers *live, int32_t node,
		int32_t cepoch)
{
	if (p->controller_epoch > cepoch)
		return CTL_ERR_STALE_CONTROLLER;
	if (p->leader != node)
		return 0;
	for (size_t i = 0; i < p->nreplicas; i++) {
		int32_t r = p->replicas[i];
		if (r == node || !ctl_brokers_has(live, r) || !ids_has(p->isr, p->nisr, r))
			continue;
		size_t n = 0; /* node leaves the ISR: the others keep their order */
		for (size_t j = 0; j < p->nisr; j++)
			if (p->isr[j] != node)
				p->isr[n++] = p->isr[j];
		p->nisr = n;
		p->leader = r;
		break;
	}
	p->leader_epoch++;
	p->controller_epoch = cepoch;
	return 1;
}

int ctl_new_state(struct ctl_part *p, const struct ctl_brokers *live, int32_t cepoch)
{
	int32_t *isr = NULL;
	size_t i, n = 0;

	if (p->nreplicas > 0) {
		isr = malloc(p->nreplicas * sizeof(*isr));
		if (!isr)
			return CTL_ERR_NOMEM;
	}
	for (i = 0; i < p->nreplicas; i++)
		if (ctl_brokers_has(live, p->replicas[i]))
			isr[n++] = p->replicas[i];
	free(p->isr);
	p->isr = isr;
	p->nisr = n;
	p->leader = n > 0 ? isr[0] : CTL_NO_LEADER;
	p->leader_epoch = 0;
	p->controller_epoch = cepoch;
	p->version = 0;
	return n > 0 ? 0 : 1;
}

bool ctl_config_bool(const char *value, bool dflt)
{
	if (!value)
		return dflt;
	if (strcasecmp(value, "true") == 0)
		return true;
	if (strcasecmp(value, "false") == 0)
		return false;
	return dflt;
}
