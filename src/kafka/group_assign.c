/*
 * A member's assignment as topics and partitions, for core's management
 * view of groups (core/groups.h: struct tdm_group_coordinator): the
 * consumer protocol's Assignment bytes decoded, when the group's protocol
 * type is "consumer".
 *
 * Must not depend on: src/amqp, src/http.
 */
#include <string.h>

#include "kafka/groups_internal.h"

int kf_group_assignment(void *ctx, const struct tdm_group *g, const struct tdm_group_member *m,
			void (*fn)(void *arg, const char *topic, size_t topic_len,
				   const int32_t *partitions, size_t npartitions),
			void *arg)
{
	struct kf_consumer_assignment ca;
	struct kf_arena a;
	int ok = 0;

	(void)ctx;
	if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0 || !m->assignment)
		return 0;
	kf_arena_init(&a);
	if (kf_decode_consumer_assignment(m->assignment, (size_t)m->assignment_len, &a, &ca) < 0)
		goto out;
	ok = 1;
	for (int32_t i = 0; i < ca.ntopics; i++)
		fn(arg, ca.topics[i].topic.p, (size_t)ca.topics[i].topic.len,
		   ca.topics[i].partitions, (size_t)ca.topics[i].npartitions);
out:
	kf_arena_free(&a);
	return ok;
}
