/*
 * The API table and ApiVersions.  The table is the one statement of what
 * this broker serves: the dispatcher checks versions against it and
 * ApiVersions is built from it, so we never advertise what we do not
 * serve.  docs/kafka-versions.md says per API what each version brings
 * and how tandem answers it (test_kafka_meta checks the two agree).
 *
 * Choosing a range is choosing what clients send, as they pick the
 * highest version both sides know: librdkafka 2.0.2 turns features on
 * from ranges (compression needs Produce v0 in the range, zstd Produce v7
 * and Fetch v10, lz4 and group coordination FindCoordinator v0), and
 * kafka-python 2.0.2 infers a broker release from a few of them
 * (DescribeAcls v2: 2.5, Produce v8: 2.4, then it produces v7; ListOffsets
 * v5, Fetch v7/v8/v10/v11, Metadata v4/v5 lower down) and sends that
 * release's versions.
 *
 * Must not depend on: src/amqp.
 */
#include "kafka/kf.h"

const struct kf_api kf_apis[] = {
	{ KF_PRODUCE, 0, 9, "Produce", kf_h_produce },
	{ KF_FETCH, 4, 13, "Fetch", kf_h_fetch },
	{ KF_LIST_OFFSETS, 1, 7, "ListOffsets", kf_h_list_offsets },
	{ KF_METADATA, 0, 12, "Metadata", kf_h_metadata },
	{ KF_OFFSET_COMMIT, 1, 8, "OffsetCommit", kf_h_offset_commit },
	{ KF_OFFSET_FETCH, 1, 8, "OffsetFetch", kf_h_offset_fetch },
	{ KF_FIND_COORDINATOR, 0, 4, "FindCoordinator", kf_h_find_coordinator },
	{ KF_JOIN_GROUP, 0, 9, "JoinGroup", kf_h_join_group },
	{ KF_HEARTBEAT, 0, 4, "Heartbeat", kf_h_heartbeat },
	{ KF_LEAVE_GROUP, 0, 5, "LeaveGroup", kf_h_leave_group },
	{ KF_SYNC_GROUP, 0, 5, "SyncGroup", kf_h_sync_group },
	{ KF_DESCRIBE_GROUPS, 0, 5, "DescribeGroups", kf_h_describe_groups },
	{ KF_LIST_GROUPS, 0, 4, "ListGroups", kf_h_list_groups },
	{ KF_SASL_HANDSHAKE, 0, 1, "SaslHandshake", kf_h_sasl_handshake },
	{ KF_API_VERSIONS, 0, 3, "ApiVersions", kf_h_api_versions },
	{ KF_CREATE_TOPICS, 0, 7, "CreateTopics", kf_h_create_topics },
	{ KF_DELETE_TOPICS, 0, 6, "DeleteTopics", kf_h_delete_topics },
	{ KF_DELETE_RECORDS, 0, 2, "DeleteRecords", kf_h_delete_records },
	{ KF_INIT_PRODUCER_ID, 0, 4, "InitProducerId", kf_h_init_producer_id },
	{ KF_ADD_PARTITIONS_TO_TXN, 0, 3, "AddPartitionsToTxn", kf_h_add_partitions_to_txn },
	{ KF_ADD_OFFSETS_TO_TXN, 0, 3, "AddOffsetsToTxn", kf_h_add_offsets_to_txn },
	{ KF_END_TXN, 0, 3, "EndTxn", kf_h_end_txn },
	{ KF_WRITE_TXN_MARKERS, 0, 1, "WriteTxnMarkers", kf_h_write_txn_markers },
	{ KF_TXN_OFFSET_COMMIT, 0, 3, "TxnOffsetCommit", kf_h_txn_offset_commit },
	{ KF_OFFSET_FOR_LEADER_EPOCH, 0, 4, "OffsetForLeaderEpoch", kf_h_offset_for_leader_epoch },
	{ KF_SASL_AUTHENTICATE, 0, 2, "SaslAuthenticate", kf_h_sasl_authenticate },
	{ KF_CREATE_PARTITIONS, 0, 3, "CreatePartitions", kf_h_create_partitions },
	{ KF_DESCRIBE_ACLS, 0, 3, "DescribeAcls", kf_h_describe_acls },
	{ KF_CREATE_ACLS, 0, 3, "CreateAcls", kf_h_create_acls },
	{ KF_DELETE_ACLS, 0, 3, "DeleteAcls", kf_h_delete_acls },
	{ KF_DESCRIBE_CONFIGS, 0, 4, "DescribeConfigs", kf_h_describe_configs },
	{ KF_ALTER_CONFIGS, 0, 2, "AlterConfigs", kf_h_alter_configs },
	{ KF_INCREMENTAL_ALTER_CONFIGS, 0, 1, "IncrementalAlterConfigs",
	  kf_h_incremental_alter_configs },
	{ KF_DELETE_GROUPS, 0, 2, "DeleteGroups", kf_h_delete_groups },
	{ KF_OFFSET_DELETE, 0, 0, "OffsetDelete", kf_h_offset_delete },
	{ KF_DESCRIBE_CLUSTER, 0, 1, "DescribeCluster", kf_h_describe_cluster },
	{ KF_DESCRIBE_LOG_DIRS, 0, 4, "DescribeLogDirs", kf_h_describe_log_dirs },
};

const size_t kf_napis = sizeof(kf_apis) / sizeof(kf_apis[0]);

const struct kf_api *kf_api_find(int16_t key)
{
	for (size_t i = 0; i < kf_napis; i++)
		if (kf_apis[i].key == key)
			return &kf_apis[i];
	return NULL;
}

/* v0: error_code, [api_key, min_version, max_version]; v1+: throttle_time_ms;
 * v3 (flexible): compact, with tagged fields (none sent). */
int kf_h_api_versions(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int flex = kf_flex(kc);

	if (kf_decode_api_versions(cur, kc->hdr.api_version) < 0)
		return KF_R_CLOSE;
	kf_put_i16(resp, KF_ERR_NONE);
	kf_put_farray(resp, flex, (int32_t)kf_napis);
	for (size_t i = 0; i < kf_napis; i++) {
		kf_put_i16(resp, kf_apis[i].key);
		kf_put_i16(resp, kf_apis[i].min);
		kf_put_i16(resp, kf_apis[i].max);
		kf_put_tags(resp, flex);
	}
	if (kc->hdr.api_version >= 1)
		kf_put_i32(resp, 0);
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}
