/*
 * libFuzzer target for the Kafka request decoders (src/kafka/decode.c,
 * txn_decode.c, acl_decode.c).
 * The input is read two ways: as a stream of request frames (size,
 * header, then the body through the decoder of the header's API at the
 * header's version), and directly as a body for every decoder at
 * versions 0-7 and in the flexible encoding at 7-9 (JoinGroup's highest
 * served), so the fuzzer reaches the decoders without first having
 * to learn frame sizes; also as a consumer-protocol Assignment (the
 * SyncGroup bytes the management API decodes).  Invariants: a decoder either fails or consumes
 * its body exactly; every slice it returns lies inside the input; the
 * arena stays bounded.  tests/fuzz/replay.c runs the same function over
 * the committed corpus in `make check`.
 *
 * Depends on: src/kafka/proto.h and the decoder files only.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "kafka/proto.h"



static const uint8_t *lo, *hi;

static void in_input(const void *p, int32_t len)
{
	if (len <= 0)
		return;
	CHECK((const uint8_t *)p >= lo && (const uint8_t *)p + len <= hi);
}

static void str_ok(struct kf_str s)
{
	CHECK(s.len >= -1);
	in_input(s.p, s.len);
}

static void bytes_ok(struct kf_bytes b)
{
	CHECK(b.len >= -1);
	in_input(b.p, b.len);
}

/* An ACL binding or filter's strings lie in the input. */
static void acl_ok(const struct kf_acl *b)
{
	str_ok(b->name);
	str_ok(b->principal);
	str_ok(b->host);
}

/* The first flexible version of an API served so far (the API table's
 * flex column; this target links the decoder alone), 0 for none. */
/* Decodes body as API key at version ver (flex: a flexible version's
 * encoding) and checks what came out. */
static void decode_one(int key, int ver, int flex, const uint8_t *p, size_t len,
		       struct kf_arena *a)
{
	struct kf_cur c;
	int rc = KF_BAD;

	kf_cur_init(&c, p, len);
	c.flex = flex;
	switch (key) {
	case KF_DESCRIBE_LOG_DIRS: {
		struct kf_log_dirs_req r;
		if ((rc = kf_decode_describe_log_dirs(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ntopics; i++) {
				str_ok(r.topics[i].name);
				CHECK(r.topics[i].nparts >= 0);
			}
		break;
	}
	case KF_METADATA: {
		struct kf_metadata_req r;
		if ((rc = kf_decode_metadata(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ntopics; i++)
				str_ok(r.topics[i]);
		break;
	}
	case KF_PRODUCE: {
		struct kf_produce_req r;
		if ((rc = kf_decode_produce(&c, ver, a, &r)) == 0) {
			str_ok(r.transactional_id);
			for (int32_t i = 0; i < r.ntopics; i++) {
				str_ok(r.topics[i].name);
				for (int32_t j = 0; j < r.topics[i].nparts; j++)
					bytes_ok(r.topics[i].parts[j].records);
			}
		}
		break;
	}
	case KF_FETCH: {
		struct kf_fetch_req r;
		if ((rc = kf_decode_fetch(&c, ver, a, &r)) == 0) {
			for (int32_t i = 0; i < r.ntopics; i++) {
				str_ok(r.topics[i].name);
				CHECK(r.topics[i].nparts >= 0);
			}
			for (int32_t i = 0; i < r.nforgotten; i++) {
				str_ok(r.forgotten[i].name);
				CHECK(r.forgotten[i].nparts >= 0);
			}
		}
		break;
	}
	case KF_LIST_OFFSETS: {
		struct kf_list_offsets_req r;
		if ((rc = kf_decode_list_offsets(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ntopics; i++)
				str_ok(r.topics[i].name);
		break;
	}
	case KF_OFFSET_COMMIT: {
		struct kf_offset_commit_req r;
		if ((rc = kf_decode_offset_commit(&c, ver, a, &r)) == 0) {
			str_ok(r.group_id);
			str_ok(r.member_id);
			str_ok(r.group_instance_id);
			for (int32_t i = 0; i < r.ntopics; i++)
				for (int32_t j = 0; j < r.topics[i].nparts; j++)
					str_ok(r.topics[i].parts[j].metadata);
		}
		break;
	}
	case KF_OFFSET_FETCH: {
		struct kf_offset_fetch_req r;
		if ((rc = kf_decode_offset_fetch(&c, ver, a, &r)) == 0) {
			for (int32_t i = 0; i < r.ntopics; i++)
				str_ok(r.topics[i].name);
			CHECK(r.ngroups >= 0);
			for (int32_t g = 0; g < r.ngroups; g++) {
				str_ok(r.groups[g].group_id);
				for (int32_t i = 0; i < r.groups[g].ntopics; i++)
					str_ok(r.groups[g].topics[i].name);
			}
		}
		break;
	}
	case KF_FIND_COORDINATOR: {
		struct kf_find_coordinator_req r;
		if ((rc = kf_decode_find_coordinator(&c, ver, a, &r)) == 0) {
			CHECK(r.nkeys >= 0);
			for (int32_t i = 0; i < r.nkeys; i++)
				str_ok(r.keys[i]);
		}
		break;
	}
	case KF_JOIN_GROUP: {
		struct kf_join_group_req r;
		if ((rc = kf_decode_join_group(&c, ver, a, &r)) == 0) {
			str_ok(r.group_id);
			str_ok(r.member_id);
			str_ok(r.group_instance_id);
			str_ok(r.protocol_type);
			str_ok(r.reason);
			for (int32_t i = 0; i < r.nprotocols; i++) {
				str_ok(r.protocols[i].name);
				bytes_ok(r.protocols[i].metadata);
			}
		}
		break;
	}
	case KF_HEARTBEAT: {
		struct kf_heartbeat_req r;
		if ((rc = kf_decode_heartbeat(&c, ver, &r)) == 0) {
			str_ok(r.member_id);
			str_ok(r.group_instance_id);
		}
		break;
	}
	case KF_LEAVE_GROUP: {
		struct kf_leave_group_req r;
		if ((rc = kf_decode_leave_group(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.nmembers; i++) {
				str_ok(r.members[i].member_id);
				str_ok(r.members[i].group_instance_id);
				str_ok(r.members[i].reason);
			}
		break;
	}
	case KF_SYNC_GROUP: {
		struct kf_sync_group_req r;
		if ((rc = kf_decode_sync_group(&c, ver, a, &r)) == 0) {
			str_ok(r.group_instance_id);
			str_ok(r.protocol_type);
			str_ok(r.protocol_name);
			for (int32_t i = 0; i < r.nassignments; i++)
				bytes_ok(r.assignments[i].assignment);
		}
		break;
	}
	case KF_DESCRIBE_GROUPS: {
		struct kf_describe_groups_req r;
		if ((rc = kf_decode_describe_groups(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ngroups; i++)
				str_ok(r.groups[i]);
		break;
	}
	case KF_LIST_GROUPS: {
		struct kf_list_groups_req r;
		if ((rc = kf_decode_list_groups(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.nstates; i++)
				str_ok(r.states[i]);
		break;
	}
	case KF_API_VERSIONS:
		rc = kf_decode_api_versions(&c, ver);
		break;
	case KF_CREATE_TOPICS: {
		struct kf_create_topics_req r;
		if ((rc = kf_decode_create_topics(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ntopics; i++)
				for (int32_t j = 0; j < r.topics[i].nconfigs; j++) {
					str_ok(r.topics[i].configs[j].name);
					str_ok(r.topics[i].configs[j].value);
				}
		break;
	}
	case KF_DELETE_TOPICS: {
		struct kf_delete_topics_req r;
		if ((rc = kf_decode_delete_topics(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ntopics; i++)
				str_ok(r.topics[i]);
		break;
	}
	case KF_CREATE_PARTITIONS: {
		struct kf_create_partitions_req r;
		if ((rc = kf_decode_create_partitions(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ntopics; i++)
				str_ok(r.topics[i].name);
		break;
	}
	case KF_DESCRIBE_CONFIGS: {
		struct kf_describe_configs_req r;
		if ((rc = kf_decode_describe_configs(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.nresources; i++) {
				str_ok(r.resources[i].name);
				for (int32_t j = 0; j < r.resources[i].nkeys; j++)
					str_ok(r.resources[i].keys[j]);
			}
		break;
	}
	case KF_INIT_PRODUCER_ID: {
		struct kf_init_producer_id_req r;
		if ((rc = kf_decode_init_producer_id(&c, ver, &r)) == 0)
			str_ok(r.transactional_id);
		break;
	}
	case KF_ALTER_CONFIGS:
	case KF_INCREMENTAL_ALTER_CONFIGS: {
		struct kf_alter_configs_req r;
		if ((rc = kf_decode_alter_configs(&c, key == KF_INCREMENTAL_ALTER_CONFIGS, a, &r)) == 0)
			for (int32_t i = 0; i < r.nresources; i++) {
				str_ok(r.resources[i].name);
				for (int32_t j = 0; j < r.resources[i].nconfigs; j++) {
					str_ok(r.resources[i].configs[j].name);
					str_ok(r.resources[i].configs[j].value);
				}
			}
		break;
	}
	case KF_DELETE_RECORDS: {
		struct kf_delete_records_req r;
		if ((rc = kf_decode_delete_records(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ntopics; i++) {
				str_ok(r.topics[i].name);
				CHECK(r.topics[i].nparts >= 0);
			}
		break;
	}
	case KF_OFFSET_DELETE: {
		struct kf_offset_delete_req r;
		if ((rc = kf_decode_offset_delete(&c, ver, a, &r)) == 0) {
			str_ok(r.group_id);
			for (int32_t i = 0; i < r.ntopics; i++)
				str_ok(r.topics[i].name);
		}
		break;
	}
	case KF_DELETE_GROUPS: {
		struct kf_delete_groups_req r;
		if ((rc = kf_decode_delete_groups(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ngroups; i++)
				str_ok(r.groups[i]);
		break;
	}
	case KF_OFFSET_FOR_LEADER_EPOCH: {
		struct kf_ofle_req r;
		if ((rc = kf_decode_offset_for_leader_epoch(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.ntopics; i++) {
				str_ok(r.topics[i].topic);
				CHECK(r.topics[i].nparts >= 0);
			}
		break;
	}
	case KF_ADD_PARTITIONS_TO_TXN: {
		struct kf_add_partitions_txn_req r;
		if ((rc = kf_decode_add_partitions_txn(&c, ver, a, &r)) == 0) {
			str_ok(r.prod.transactional_id);
			for (int32_t i = 0; i < r.ntopics; i++) {
				str_ok(r.topics[i].name);
				for (int32_t j = 0; j < r.topics[i].nparts; j++)
					(void)r.topics[i].parts[j];
			}
		}
		break;
	}
	case KF_ADD_OFFSETS_TO_TXN: {
		struct kf_add_offsets_txn_req r;
		if ((rc = kf_decode_add_offsets_txn(&c, ver, &r)) == 0) {
			str_ok(r.prod.transactional_id);
			str_ok(r.group_id);
		}
		break;
	}
	case KF_END_TXN: {
		struct kf_end_txn_req r;
		if ((rc = kf_decode_end_txn(&c, ver, &r)) == 0)
			str_ok(r.prod.transactional_id);
		break;
	}
	case KF_TXN_OFFSET_COMMIT: {
		struct kf_txn_offset_commit_req r;
		if ((rc = kf_decode_txn_offset_commit(&c, ver, a, &r)) == 0) {
			str_ok(r.group_id);
			str_ok(r.member_id);
			str_ok(r.instance);
			for (int32_t i = 0; i < r.ntopics; i++) {
				str_ok(r.topics[i].name);
				for (int32_t j = 0; j < r.topics[i].nparts; j++)
					str_ok(r.topics[i].parts[j].metadata);
			}
		}
		break;
	}
	case KF_WRITE_TXN_MARKERS: {
		struct kf_write_txn_markers_req r;
		if ((rc = kf_decode_write_txn_markers(&c, ver, a, &r)) == 0)
			for (int32_t i = 0; i < r.nmarkers; i++) {
				CHECK(r.markers[i].ntopics >= 0);
				for (int32_t j = 0; j < r.markers[i].ntopics; j++) {
					str_ok(r.markers[i].topics[j].name);
					CHECK(r.markers[i].topics[j].nparts >= 0);
					for (int32_t q = 0; q < r.markers[i].topics[j].nparts; q++)
						(void)r.markers[i].topics[j].parts[q];
				}
			}
		break;
	}
	case KF_DESCRIBE_ACLS: {
		struct kf_acl r;
		if ((rc = kf_decode_describe_acls(&c, ver, &r)) == 0)
			acl_ok(&r);
		break;
	}
	case KF_CREATE_ACLS:
	case KF_DELETE_ACLS: {
		struct kf_acls_req r;
		rc = key == KF_CREATE_ACLS ? kf_decode_create_acls(&c, ver, a, &r)
					   : kf_decode_delete_acls(&c, ver, a, &r);
		if (rc == 0) {
			CHECK(r.n >= 0);
			for (int32_t i = 0; i < r.n; i++)
				acl_ok(&r.acls[i]);
		}
		break;
	}
	default:
		return;
	}
	CHECK(rc == 0 || rc == KF_BAD);
	CHECK(c.p <= c.end);
	if (rc == 0)
		CHECK(c.p == c.end && !c.bad);
	CHECK(a->used_total <= 64 * len + 4096);
	kf_arena_reset(a);
}

static const int keys[] = { KF_PRODUCE, KF_FETCH, KF_LIST_OFFSETS, KF_METADATA,
			    KF_OFFSET_COMMIT, KF_OFFSET_FETCH, KF_FIND_COORDINATOR,
			    KF_JOIN_GROUP, KF_HEARTBEAT, KF_LEAVE_GROUP, KF_SYNC_GROUP,
			    KF_DESCRIBE_GROUPS, KF_LIST_GROUPS, KF_API_VERSIONS,
			    KF_CREATE_TOPICS, KF_DELETE_TOPICS, KF_CREATE_PARTITIONS,
			    KF_OFFSET_FOR_LEADER_EPOCH, KF_DESCRIBE_CONFIGS, KF_DELETE_GROUPS,
			    KF_DELETE_RECORDS, KF_OFFSET_DELETE, KF_ALTER_CONFIGS,
			    KF_INCREMENTAL_ALTER_CONFIGS, KF_INIT_PRODUCER_ID, KF_DESCRIBE_LOG_DIRS,
			    KF_WRITE_TXN_MARKERS, KF_DESCRIBE_ACLS, KF_CREATE_ACLS,
			    KF_DELETE_ACLS };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kf_arena a;
	size_t off = 0;

	lo = data;
	hi = data + size;
	kf_arena_init(&a);
	/* 1. a stream of request frames, as a connection reads them */
	while (off < size) {
		long n = kf_frame_size(data + off, size - off, 1 << 20);
		struct kf_header h;
		struct kf_cur c;

		CHECK(n == KF_AGAIN || n == KF_BAD || n == KF_TOO_BIG || n >= 10);
		if (n <= 0)
			break;
		CHECK((size_t)n <= size - off - 4);
		kf_cur_init(&c, data + off + 4, (size_t)n);
		if (kf_decode_header(&c, &h) == 0) {
			int first = kf_first_flexible(h.api_key);
			int flex = first >= 0 && h.api_version >= first;
			str_ok(h.client_id);
			if (!flex || kf_skip_tags(&c) == 0) /* request header v2 */
				decode_one(h.api_key, h.api_version, flex, c.p, kf_cur_left(&c), &a);
		}
		off += 4 + (size_t)n;
	}
	/* 2. the whole input as a consumer-protocol Assignment (SyncGroup bytes) */
	{
		struct kf_consumer_assignment ca;

		if (kf_decode_consumer_assignment(data, size, &a, &ca) == 0) {
			CHECK(ca.ntopics >= 0 && ca.version >= 0);
			for (int32_t i = 0; i < ca.ntopics; i++) {
				str_ok(ca.topics[i].topic);
				CHECK(ca.topics[i].npartitions >= 0);
			}
			bytes_ok(ca.user_data);
		}
		CHECK(a.used_total <= 64 * size + 4096);
		kf_arena_reset(&a);
	}
	/* 3. the whole input as the body of every request, versions 0-13
	 * (Fetch's highest), each in the encoding the version has, and in the
	 * flexible encoding at versions 7-9 whatever the API */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int first = kf_first_flexible(keys[i]);
		for (int ver = 0; ver <= 13; ver++)
			decode_one(keys[i], ver, first >= 0 && ver >= first, data, size, &a);
		for (int ver = 7; ver <= 9; ver++)
			decode_one(keys[i], ver, 1, data, size, &a);
	}
	kf_arena_free(&a);
	return 0;
}
