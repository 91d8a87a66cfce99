/*
 * Kafka error codes: the one place where statuses of the layers below
 * become wire codes (see /shared/kafka-protocol.md section 2.8).
 *
 * Must not depend on: src/amqp.
 */
#include "core/replica.h"
#include "kafka/kf.h"

int16_t kf_err_from_core(int rc)
{
	switch (rc) {
	case TDM_TOPIC_OK:
		return KF_ERR_NONE;
	case TDM_ERR_EXISTS:
		return KF_ERR_TOPIC_ALREADY_EXISTS;
	case TDM_ERR_NOT_FOUND:
		return KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	case TDM_ERR_OFFSET_OUT_OF_RANGE:
		return KF_ERR_OFFSET_OUT_OF_RANGE;
	case TDM_ERR_CORRUPT:
		return KF_ERR_CORRUPT_MESSAGE;
	case TDM_ERR_INVALID_RECORD:
		return KF_ERR_INVALID_RECORD;
	case TDM_ERR_INVALID_TIMESTAMP:
		return KF_ERR_INVALID_TIMESTAMP;
	case TDM_ERR_TOO_LARGE:
		return KF_ERR_MESSAGE_TOO_LARGE;
	case TDM_ERR_UNSUPPORTED_CODEC:
		return KF_ERR_UNSUPPORTED_COMPRESSION_TYPE;
	case TDM_ERR_INVALID_CONFIG:
		return KF_ERR_INVALID_CONFIG;
	case TDM_ERR_INVALID_TOPIC:
		return KF_ERR_INVALID_TOPIC_EXCEPTION;
	case TDM_ERR_INVALID:
	case TDM_ERR_BUSY: /* another CreatePartitions of the topic is under way */
		return KF_ERR_INVALID_PARTITIONS;
	case TDM_ERR_IO:
		return KF_ERR_KAFKA_STORAGE_ERROR;
	case TDM_ERR_OUT_OF_ORDER_SEQUENCE:
		return KF_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
	case TDM_ERR_PRODUCER_FENCED:
		return KF_ERR_INVALID_PRODUCER_EPOCH;
	case TDM_TOPICS_ERR_LIMIT:
		return KF_ERR_POLICY_VIOLATION;
	case TDM_REPL_NOT_LEADER:
		return KF_ERR_NOT_LEADER_OR_FOLLOWER;
	case TDM_REPL_NO_LEADER:
		return KF_ERR_LEADER_NOT_AVAILABLE;
	case TDM_REPL_UNKNOWN:
		return KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	case TDM_REPL_NOT_ENOUGH:
		return KF_ERR_NOT_ENOUGH_REPLICAS;
	case TDM_REPL_NOT_ENOUGH_AFTER:
		return KF_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
	case TDM_REPL_FENCED_EPOCH:
		return KF_ERR_FENCED_LEADER_EPOCH;
	case TDM_REPL_UNKNOWN_EPOCH:
		return KF_ERR_UNKNOWN_LEADER_EPOCH;
	case TDM_REPL_BAD_FACTOR:
		return KF_ERR_INVALID_REPLICATION_FACTOR;
	case TDM_REPL_BAD_ASSIGNMENT:
		return KF_ERR_INVALID_REPLICA_ASSIGNMENT;
	case TDM_REPL_TIMED_OUT:
		return KF_ERR_REQUEST_TIMED_OUT;
	case TDM_REPL_NO_CLUSTER:
		return KF_ERR_NOT_CONTROLLER;
	default:
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	}
}

int16_t kf_err_from_replica(int rc)
{
	return kf_err_from_core(rc); /* it maps the TDM_REPL_* codes too */
}

int16_t kf_err_from_group(int rc)
{
	switch (rc) {
	case TDM_GROUP_OK:
		return KF_ERR_NONE;
	case TDM_GROUP_ILLEGAL_GENERATION:
		return KF_ERR_ILLEGAL_GENERATION;
	case TDM_GROUP_REBALANCING:
		return KF_ERR_REBALANCE_IN_PROGRESS;
	case TDM_GROUP_UNKNOWN_MEMBER:
		return KF_ERR_UNKNOWN_MEMBER_ID;
	case TDM_GROUP_FENCED:
		return KF_ERR_FENCED_INSTANCE_ID;
	default:
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	}
}

const char *kf_err_name(int16_t code)
{
	switch (code) {
	case KF_ERR_NONE:
		return NULL;
	case KF_ERR_TOPIC_ALREADY_EXISTS:
		return "Topic already exists.";
	case KF_ERR_INVALID_TOPIC_EXCEPTION:
		return "Invalid topic name.";
	case KF_ERR_INVALID_PARTITIONS:
		return "Invalid number of partitions.";
	case KF_ERR_INVALID_REPLICATION_FACTOR:
		return "Replication factor must be 1 (one broker).";
	case KF_ERR_INVALID_REPLICA_ASSIGNMENT:
		return "Replica assignments must name this broker only.";
	case KF_ERR_INVALID_CONFIG:
		return "Invalid topic configuration.";
	case KF_ERR_UNKNOWN_TOPIC_OR_PARTITION:
		return "Unknown topic.";
	case KF_ERR_TOPIC_AUTHORIZATION_FAILED:
		return "Topic authorization failed.";
	case KF_ERR_KAFKA_STORAGE_ERROR:
		return "Storage error.";
	case KF_ERR_POLICY_VIOLATION:
		return "The broker's partition limit (max_partitions) is reached.";
	default:
		return "Request failed.";
	}
}
