/*
 * The controller's rules (cluster/ctl.h), each test named after the Kafka
 * behaviour it reproduces: AdminUtils' rack-unaware assignment (Kafka's own
 * test vectors), explicit-assignment validation, the offline-partition
 * leader election, and what a broker's death and return do to a
 * partition's leader, ISR and epochs.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/ctl.h"
#include "core/replica.h"

#define IDS(...) ((int32_t[]){ __VA_ARGS__ })
#define NIDS(...) (sizeof((int32_t[]){ __VA_ARGS__ }) / sizeof(int32_t))

/* A live set from a literal list (ids copied into a static buffer). */
static int32_t live_buf[8][16];
static struct ctl_brokers mk_live(int slot, const int32_t *ids, size_t n)
{
	struct ctl_brokers b = { live_buf[slot], n };

	memcpy(live_buf[slot], ids, n * sizeof(*ids));
	ctl_brokers_sort(&b);
	return b;
}
#define LIVE(slot, ...) mk_live(slot, IDS(__VA_ARGS__), NIDS(__VA_ARGS__))
#define NONE_LIVE ((struct ctl_brokers){ live_buf[7], 0 })

static void ck_ids(const int32_t *got, size_t ngot, const int32_t *want, size_t nwant)
{
	size_t i;

	ck_assert_uint_eq(ngot, nwant);
	for (i = 0; i < nwant; i++)
		ck_assert_msg(got[i] == want[i], "id %zu: got %d, want %d", i, (int)got[i],
			      (int)want[i]);
}
#define CK_IDS(got, n, ...) ck_ids(got, n, IDS(__VA_ARGS__), NIDS(__VA_ARGS__))

/* A partition state with its own ISR copy. */
static struct ctl_part mk_part(const int32_t *replicas, size_t nreplicas, const int32_t *isr,
			       size_t nisr, int32_t leader, int32_t leader_epoch, int32_t cepoch)
{
	struct ctl_part p = { replicas, nreplicas, NULL, nisr, leader, leader_epoch, cepoch, 7 };

	p.isr = malloc((nisr ? nisr : 1) * sizeof(*p.isr));
	ck_assert_ptr_nonnull(p.isr);
	memcpy(p.isr, isr, nisr * sizeof(*isr));
	return p;
}

/* ---- assignment --------------------------------------------------- */

/* Kafka's AdminUtilsTest.testReplicaAssignment: brokers 0..4, 10
 * partitions, replication factor 3, fixed start index 0. */
START_TEST(test_assign_kafka_admin_utils_vector)
{
	struct ctl_brokers b = LIVE(0, 0, 1, 2, 3, 4);
	struct ctl_assignment a;
	static const int32_t want[10][3] = { { 0, 1, 2 }, { 1, 2, 3 }, { 2, 3, 4 }, { 3, 4, 0 },
					     { 4, 0, 1 }, { 0, 2, 3 }, { 1, 3, 4 }, { 2, 4, 0 },
					     { 3, 0, 1 }, { 4, 1, 2 } };
	size_t p;

	ck_assert_int_eq(ctl_assign(&b, 10, 3, 0, 0, &a), 0);
	ck_assert_uint_eq(a.nparts, 10);
	for (p = 0; p < 10; p++)
		ck_ids(a.parts[p].ids, a.parts[p].n, want[p], 3);
	ctl_assignment_free(&a);
}
END_TEST

/* assignReplicasToBrokers sorts the brokers by id (AdminZkClient's
 * getBrokerMetadatas): the registration order does not matter. */
START_TEST(test_assign_brokers_sorted_by_id)
{
	struct ctl_brokers b = LIVE(0, 30, 10, 20);
	struct ctl_assignment a;

	ck_assert_int_eq(ctl_assign(&b, 3, 2, 0, 0, &a), 0);
	CK_IDS(a.parts[0].ids, a.parts[0].n, 10, 20);
	CK_IDS(a.parts[1].ids, a.parts[1].n, 20, 30);
	CK_IDS(a.parts[2].ids, a.parts[2].n, 30, 10);
	ctl_assignment_free(&a);
}
END_TEST

/* A random start index still spreads leaders and replicas evenly: with
 * partitions a multiple of the brokers, each broker leads as many
 * partitions and holds as many replicas as any other. */
START_TEST(test_assign_random_start_spreads_evenly)
{
	struct ctl_brokers b = LIVE(0, 1, 2, 3);
	int round;

	for (round = 0; round < 20; round++) {
		struct ctl_assignment a;
		int leads[4] = { 0 }, holds[4] = { 0 };
		size_t p, i;

		ck_assert_int_eq(ctl_assign(&b, 6, 3, -1, 0, &a), 0);
		for (p = 0; p < a.nparts; p++) {
			leads[a.parts[p].ids[0]]++;
			for (i = 0; i < a.parts[p].n; i++)
				holds[a.parts[p].ids[i]]++;
		}
		for (i = 1; i <= 3; i++) {
			ck_assert_int_eq(leads[i], 2);
			ck_assert_int_eq(holds[i], 6);
		}
		ctl_assignment_free(&a);
	}
}
END_TEST

/* AdminUtils: "Replication factor: 4 larger than available brokers: 3."
 * and "Replication factor must be larger than 0." are
 * InvalidReplicationFactorException (38); no partitions is
 * InvalidPartitionsException (37). */
START_TEST(test_assign_invalid_replication_factor)
{
	struct ctl_brokers b = LIVE(0, 1, 2, 3);
	struct ctl_assignment a;

	ck_assert_int_eq(ctl_assign(&b, 1, 4, -1, 0, &a), CTL_ERR_INVALID_REPLICATION_FACTOR);
	ck_assert_int_eq(-CTL_ERR_INVALID_REPLICATION_FACTOR, 38);
	ck_assert_ptr_null(a.parts);
	ck_assert_int_eq(ctl_assign(&b, 1, 0, -1, 0, &a), CTL_ERR_INVALID_REPLICATION_FACTOR);
	ck_assert_int_eq(ctl_assign(&NONE_LIVE, 1, 1, -1, 0, &a),
			 CTL_ERR_INVALID_REPLICATION_FACTOR);
	ck_assert_int_eq(ctl_assign(&b, 0, 1, -1, 0, &a), CTL_ERR_INVALID_PARTITIONS);
	ck_assert_int_eq(-CTL_ERR_INVALID_PARTITIONS, 37);
}
END_TEST

/* Kafka's AddPartitionsTest.testReplicaPlacementAllServers: a topic with
 * partition 0 on [2,3,0,1] over brokers 0..3 grows to 7 partitions; the
 * start index is that of broker 2 (the first id >= partition 0's leader),
 * the numbering continues at 1. */
START_TEST(test_assign_more_kafka_add_partitions_vector)
{
	struct ctl_brokers b = LIVE(0, 0, 1, 2, 3);
	struct ctl_replicas p0 = { IDS(2, 3, 0, 1), 4 };
	struct ctl_assignment existing = { &p0, 1 }, a;
	static const int32_t want[6][4] = { { 3, 2, 0, 1 }, { 0, 3, 1, 2 }, { 1, 0, 2, 3 },
					    { 2, 3, 0, 1 }, { 3, 0, 1, 2 }, { 0, 1, 2, 3 } };
	size_t p;

	ck_assert_int_eq(ctl_assign_more(&b, &existing, 7, &a), 0);
	ck_assert_uint_eq(a.nparts, 6);
	for (p = 0; p < 6; p++)
		ck_ids(a.parts[p].ids, a.parts[p].n, want[p], 4);
	ctl_assignment_free(&a);
}
END_TEST

/* AdminZkClient.addPartitions: "Topic currently has 3 partitions, which is
 * higher than the requested 2." / "Topic already has 3 partitions." are
 * INVALID_PARTITIONS; the new partitions keep partition 0's replication
 * factor, which must still fit the live brokers. */
START_TEST(test_assign_more_invalid)
{
	struct ctl_brokers b = LIVE(0, 1, 2);
	struct ctl_replicas parts[3] = { { IDS(1, 2), 2 }, { IDS(2, 1), 2 }, { IDS(1, 2), 2 } };
	struct ctl_assignment existing = { parts, 3 }, a;
	struct ctl_brokers one = LIVE(1, 1);

	ck_assert_int_eq(ctl_assign_more(&b, &existing, 3, &a), CTL_ERR_INVALID_PARTITIONS);
	ck_assert_int_eq(ctl_assign_more(&b, &existing, 2, &a), CTL_ERR_INVALID_PARTITIONS);
	ck_assert_int_eq(ctl_assign_more(&one, &existing, 4, &a),
			 CTL_ERR_INVALID_REPLICATION_FACTOR);
	ck_assert_int_eq(ctl_assign_more(&b, &existing, 5, &a), 0);
	ck_assert_uint_eq(a.nparts, 2);
	ck_assert_uint_eq(a.parts[0].n, 2);
	ctl_assignment_free(&a);
}
END_TEST

/* ---- explicit assignments ------------------------------------------ */

/* AdminZkClient.validateReplicaAssignment and KRaft's
 * ReplicationControlManager: duplicate replicas, unregistered brokers, an
 * empty replica list and uneven replication factors are
 * INVALID_REPLICA_ASSIGNMENT (39). */
START_TEST(test_validate_assignment_kafka_rules)
{
	struct ctl_brokers b = LIVE(0, 1, 2, 3);
	char err[200];
	struct ctl_replicas ok[2] = { { IDS(1, 2), 2 }, { IDS(3, 1), 2 } };
	struct ctl_replicas dup[2] = { { IDS(1, 2), 2 }, { IDS(3, 3), 2 } };
	struct ctl_replicas unknown[1] = { { IDS(1, 9), 2 } };
	struct ctl_replicas uneven[2] = { { IDS(1, 2), 2 }, { IDS(1, 2, 3), 3 } };
	struct ctl_replicas empty[1] = { { NULL, 0 } };
	struct ctl_assignment a;

	a = (struct ctl_assignment){ ok, 2 };
	ck_assert_int_eq(ctl_validate_assignment(&a, &b, -1, err, sizeof(err)), 0);
	a = (struct ctl_assignment){ dup, 2 };
	ck_assert_int_eq(ctl_validate_assignment(&a, &b, -1, err, sizeof(err)),
			 CTL_ERR_INVALID_REPLICA_ASSIGNMENT);
	ck_assert_ptr_nonnull(strstr(err, "Duplicate brokers"));
	a = (struct ctl_assignment){ unknown, 1 };
	ck_assert_int_eq(ctl_validate_assignment(&a, &b, -1, err, sizeof(err)),
			 CTL_ERR_INVALID_REPLICA_ASSIGNMENT);
	ck_assert_ptr_nonnull(strstr(err, "broker 9"));
	a = (struct ctl_assignment){ uneven, 2 };
	ck_assert_int_eq(ctl_validate_assignment(&a, &b, -1, NULL, 0),
			 CTL_ERR_INVALID_REPLICA_ASSIGNMENT);
	a = (struct ctl_assignment){ empty, 1 };
	ck_assert_int_eq(ctl_validate_assignment(&a, &b, -1, err, sizeof(err)),
			 CTL_ERR_INVALID_REPLICA_ASSIGNMENT);
	/* CreatePartitions: the new partitions must match partition 0's 3 */
	a = (struct ctl_assignment){ ok, 2 };
	ck_assert_int_eq(ctl_validate_assignment(&a, &b, 3, err, sizeof(err)),
			 CTL_ERR_INVALID_REPLICA_ASSIGNMENT);
	ck_assert_ptr_nonnull(strstr(err, "Inconsistent replication factor"));
	ck_assert_int_eq(-CTL_ERR_INVALID_REPLICA_ASSIGNMENT, 39);
}
END_TEST

/* ---- leader election ------------------------------------------------ */

/* OfflinePartitionLeaderElectionStrategy: the first replica in
 * assignment order (not ISR order) that is live and in the ISR. */
START_TEST(test_elect_first_live_isr_replica_in_assignment_order)
{
	struct ctl_brokers live = LIVE(0, 2, 3);
	bool unclean = true;

	ck_assert_int_eq(ctl_elect(IDS(1, 3, 2), 3, IDS(2, 1, 3), 3, &live, false, &unclean), 3);
	ck_assert(!unclean);
}
END_TEST

/* No live ISR member: unclean election off (Kafka's default) leaves the
 * partition offline; on, the first live replica leads. */
START_TEST(test_elect_unclean_only_when_enabled)
{
	struct ctl_brokers live = LIVE(0, 2, 3);
	bool unclean = false;

	ck_assert_int_eq(ctl_elect(IDS(1, 3, 2), 3, IDS(1), 1, &live, false, &unclean),
			 CTL_NO_LEADER);
	ck_assert(!unclean);
	ck_assert_int_eq(ctl_elect(IDS(1, 3, 2), 3, IDS(1), 1, &live, true, &unclean), 3);
	ck_assert(unclean);
	ck_assert_int_eq(ctl_elect(IDS(1), 1, IDS(1), 1, &live, true, &unclean), CTL_NO_LEADER);
}
END_TEST

/* unclean.leader.election.enable, per topic, else the broker default. */
START_TEST(test_unclean_config_topic_overrides_broker)
{
	ck_assert(ctl_config_bool(NULL, true));
	ck_assert(!ctl_config_bool(NULL, false));
	ck_assert(ctl_config_bool("TRUE", false));
	ck_assert(!ctl_config_bool("false", true));
}
END_TEST

/* ---- a broker's death --------------------------------------------- */

/* KafkaController.onBrokerFailure: the dead leader's partitions go
 * offline and OfflinePartitionLeaderElection picks the next live ISR
 * replica; the dead broker leaves the ISR; leader epoch + 1; the state
 * carries the new controller's epoch. */
START_TEST(test_death_of_leader_elects_next_isr_replica)
{
	struct ctl_brokers live = LIVE(0, 2, 3);
	struct ctl_part p = mk_part(IDS(1, 2, 3), 3, IDS(1, 2, 3), 3, 1, 5, 1);

	ck_assert_int_eq(ctl_reconcile(&p, &live, false, 2), 1);
	ck_assert_int_eq(p.leader, 2);
	CK_IDS(p.isr, p.nisr, 2, 3);
	ck_assert_int_eq(p.leader_epoch, 6);
	ck_assert_int_eq(p.controller_epoch, 2);
	ck_assert_int_eq(p.version, 7); /* the caller's compare-and-set version */
	ck_assert_int_eq(ctl_reconcile(&p, &live, false, 2), 0); /* nothing more to do */
	ck_assert_int_eq(p.leader_epoch, 6);
	ctl_part_free(&p);
}
END_TEST

/* ReplicaStateMachine OfflineReplica (removeReplicasFromIsr): a dead
 * follower leaves the ISR; the leader stays; the controller bumps the
 * leader epoch on the ISR change it makes. */
START_TEST(test_death_of_follower_shrinks_isr_keeps_leader)
{
	struct ctl_brokers live = LIVE(0, 1, 3);
	struct ctl_part p = mk_part(IDS(1, 2, 3), 3, IDS(1, 2, 3), 3, 1, 5, 2);

	ck_assert_int_eq(ctl_reconcile(&p, &live, false, 2), 1);
	ck_assert_int_eq(p.leader, 1);
	CK_IDS(p.isr, p.nisr, 1, 3);
	ck_assert_int_eq(p.leader_epoch, 6);
	ctl_part_free(&p);
}
END_TEST

/* A dead replica outside the ISR and not leading changes nothing. */
START_TEST(test_death_of_out_of_sync_follower_changes_nothing)
{
	struct ctl_brokers live = LIVE(0, 1, 3);
	struct ctl_part p = mk_part(IDS(1, 2, 3), 3, IDS(1, 3), 2, 1, 5, 2);

	ck_assert_int_eq(ctl_reconcile(&p, &live, false, 2), 0);
	ck_assert_int_eq(p.leader_epoch, 5);
	CK_IDS(p.isr, p.nisr, 1, 3);
	ctl_part_free(&p);
}
END_TEST

/* removeReplicasFromIsr keeps a one-member ISR as it is: the last ISR
 * member dies, the partition goes offline (leader -1) with the ISR still
 * naming it, so that it can come back as the leader. */
START_TEST(test_death_of_last_isr_member_keeps_it_in_isr)
{
	struct ctl_brokers live = LIVE(0, 2);
	struct ctl_part p = mk_part(IDS(1, 2), 2, IDS(1), 1, 1, 3, 1);

	ck_assert_int_eq(ctl_reconcile(&p, &live, false, 1), 1);
	ck_assert_int_eq(p.leader, CTL_NO_LEADER);
	CK_IDS(p.isr, p.nisr, 1);
	ck_assert_int_eq(p.leader_epoch, 4);
	ctl_part_free(&p);
}
END_TEST

/* Same death with unclean.leader.election.enable: the live out-of-sync
 * replica leads and the ISR is just it. */
START_TEST(test_death_of_last_isr_member_unclean_elects_live_replica)
{
	struct ctl_brokers live = LIVE(0, 2);
	struct ctl_part p = mk_part(IDS(1, 2), 2, IDS(1), 1, 1, 3, 1);

	ck_assert_int_eq(ctl_reconcile(&p, &live, true, 1), 1);
	ck_assert_int_eq(p.leader, 2);
	CK_IDS(p.isr, p.nisr, 2);
	ck_assert_int_eq(p.leader_epoch, 4);
	ctl_part_free(&p);
}
END_TEST

/* ---- a broker's return -------------------------------------------- */

/* KafkaController.onBrokerStartup triggers OnlinePartition for offline
 * partitions: the returning last ISR member is elected, epoch + 1. */
START_TEST(test_return_of_isr_member_brings_partition_online)
{
	struct ctl_brokers live = LIVE(0, 1, 2);
	struct ctl_part p = mk_part(IDS(1, 2), 2, IDS(1), 1, CTL_NO_LEADER, 4, 1);

	ck_assert_int_eq(ctl_reconcile(&p, &live, false, 1), 1);
	ck_assert_int_eq(p.leader, 1);
	CK_IDS(p.isr, p.nisr, 1); /* the leader adds followers to the ISR, not the controller */
	ck_assert_int_eq(p.leader_epoch, 5);
	ctl_part_free(&p);
}
END_TEST

/* An out-of-sync replica coming back does not lead an offline partition
 * with unclean election off; with it on, it does. */
START_TEST(test_return_of_non_isr_replica_needs_unclean)
{
	struct ctl_brokers live = LIVE(0, 2);
	struct ctl_part p = mk_part(IDS(1, 2), 2, IDS(1), 1, CTL_NO_LEADER, 4, 1);

	ck_assert_int_eq(ctl_reconcile(&p, &live, false, 1), 0);
	ck_assert_int_eq(p.leader, CTL_NO_LEADER);
	ck_assert_int_eq(p.leader_epoch, 4);
	ck_assert_int_eq(ctl_reconcile(&p, &live, true, 1), 1);
	ck_assert_int_eq(p.leader, 2);
	CK_IDS(p.isr, p.nisr, 2);
	ctl_part_free(&p);
}
END_TEST

/* ---- new partitions, epochs --------------------------------------- */

/* PartitionStateMachine NewPartition -> OnlinePartition
 * (initializeLeaderAndIsrForPartitions): leader the first live replica,
 * ISR the live replicas in assignment order, leader epoch 0, our
 * controller epoch. */
START_TEST(test_new_state_first_live_replica_leads)
{
	struct ctl_brokers live = LIVE(0, 1, 3);
	struct ctl_part p = { IDS(2, 3, 1), 3, NULL, 0, 0, 9, 0, 5 };
	struct tdm_partition_state st;

	ck_assert_int_eq(ctl_new_state(&p, &live, 4), 0);
	ck_assert_int_eq(p.leader, 3);
	CK_IDS(p.isr, p.nisr, 3, 1);
	ck_assert_int_eq(p.leader_epoch, 0);
	ck_assert_int_eq(p.controller_epoch, 4);
	ctl_part_view(&p, &st);
	ck_assert_int_eq(st.leader, 3);
	ck_assert_uint_eq(st.nreplicas, 3);
	ck_assert_uint_eq(st.nisr, 2);
	ck_assert_int_eq(st.controller_epoch, 4);
	ctl_part_free(&p);
}
END_TEST

/* No live replica: Kafka leaves the partition new (no state written). */
START_TEST(test_new_state_without_live_replica_is_not_written)
{
	struct ctl_brokers live = LIVE(0, 7);
	struct ctl_part p = { IDS(1, 2), 2, NULL, 0, 0, 0, 0, 0 };

	ck_assert_int_eq(ctl_new_state(&p, &live, 1), 1);
	ck_assert_int_eq(p.leader, CTL_NO_LEADER);
	ck_assert_uint_eq(p.nisr, 0);
	ctl_part_free(&p);
}
END_TEST

/* A state written by a newer controller (larger controller epoch) is not
 * changed by an older one: Kafka's controller aborts such an update. */
START_TEST(test_stale_controller_epoch_is_refused)
{
	struct ctl_brokers live = LIVE(0, 2, 3);
	struct ctl_part p = mk_part(IDS(1, 2, 3), 3, IDS(1, 2, 3), 3, 1, 5, 3);

	ck_assert_int_eq(ctl_reconcile(&p, &live, false, 2), CTL_ERR_STALE_CONTROLLER);
	ck_assert_int_eq(-CTL_ERR_STALE_CONTROLLER, 41); /* NOT_CONTROLLER */
	ck_assert_int_eq(p.leader, 1);
	ck_assert_int_eq(p.leader_epoch, 5);
	ck_assert_int_eq(p.controller_epoch, 3);
	ck_assert(ctl_epoch_stale(2, 3));
	ck_assert(!ctl_epoch_stale(3, 3));
	ctl_part_free(&p);
}
END_TEST

/* Kafka's preferred replica election: the first replica of the assignment
 * leads again once it is live and in the ISR; not before, and an offline
 * partition or one it already leads is left alone. */
START_TEST(test_preferred_replica_leads_again_once_in_sync)
{
	struct ctl_brokers live = LIVE(0, 1, 2, 3);
	struct ctl_part p = mk_part(IDS(1, 2, 3), 3, IDS(2, 3), 2, 2, 6, 1);

	ck_assert_int_eq(ctl_prefer_leader(&p, &live, 2), 0); /* 1 not in sync yet */
	ck_assert_int_eq(p.leader, 2);
	ctl_part_free(&p);
	p = mk_part(IDS(1, 2, 3), 3, IDS(2, 3, 1), 3, 2, 6, 1);
	ck_assert_int_eq(ctl_prefer_leader(&p, &live, 2), 1);
	ck_assert_int_eq(p.leader, 1);
	CK_IDS(p.isr, p.nisr, 2, 3, 1); /* the ISR stays */
	ck_assert_int_eq(p.leader_epoch, 7);
	ck_assert_int_eq(p.controller_epoch, 2);
	ck_assert_int_eq(ctl_prefer_leader(&p, &live, 2), 0); /* done */
	ctl_part_free(&p);
	struct ctl_brokers two = LIVE(1, 2, 3);
	p = mk_part(IDS(1, 2, 3), 3, IDS(2, 3, 1), 3, 2, 6, 1);
	ck_assert_int_eq(ctl_prefer_leader(&p, &two, 2), 0); /* 1 is not live */
	ctl_part_free(&p);
	p = mk_part(IDS(1, 2, 3), 3, IDS(1), 1, CTL_NO_LEADER, 6, 1);
	ck_assert_int_eq(ctl_prefer_leader(&p, &live, 2), 0); /* offline: ctl_reconcile's */
	ctl_part_free(&p);
	p = mk_part(IDS(1, 2, 3), 3, IDS(2, 3, 1), 3, 2, 6, 3);
	ck_assert_int_eq(ctl_prefer_leader(&p, &live, 2), CTL_ERR_STALE_CONTROLLER);
	ck_assert_int_eq(p.leader, 2);
	ctl_part_free(&p);
}
END_TEST

/* A leader that registered again (restarted within its session timeout,
 * so its death was never seen): the lead moves to the next in-sync
 * replica and it leaves the ISR; alone in the ISR it keeps the lead; the
 * leader epoch is bumped either way; a partition it does not lead is left
 * alone. */
START_TEST(test_bounced_leader_never_goes_on_under_the_same_epoch)
{
	struct ctl_brokers live = LIVE(0, 1, 2, 3);
	struct ctl_part p = mk_part(IDS(1, 2, 3), 3, IDS(1, 2, 3), 3, 1, 4, 1);

	ck_assert_int_eq(ctl_bounced(&p, &live, 1, 2), 1);
	ck_assert_int_eq(p.leader, 2);
	CK_IDS(p.isr, p.nisr, 2, 3);
	ck_assert_int_eq(p.leader_epoch, 5);
	ck_assert_int_eq(p.controller_epoch, 2);
	ck_assert_int_eq(ctl_bounced(&p, &live, 1, 2), 0); /* it leads nothing now */
	ctl_part_free(&p);
	p = mk_part(IDS(1, 2, 3), 3, IDS(1), 1, 1, 4, 1);
	ck_assert_int_eq(ctl_bounced(&p, &live, 1, 2), 1);
	ck_assert_int_eq(p.leader, 1);
	CK_IDS(p.isr, p.nisr, 1);
	ck_assert_int_eq(p.leader_epoch, 5);
	ctl_part_free(&p);
	p = mk_part(IDS(1, 2, 3), 3, IDS(1, 2, 3), 3, 1, 4, 3);
	ck_assert_int_eq(ctl_bounced(&p, &live, 1, 2), CTL_ERR_STALE_CONTROLLER);
	ctl_part_free(&p);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *a = tcase_create("assign"), *e = tcase_create("elect"), *d = tcase_create("death"),
	      *r = tcase_create("return"), *n = tcase_create("new");

	tcase_add_test(a, test_assign_kafka_admin_utils_vector);
	tcase_add_test(a, test_assign_brokers_sorted_by_id);
	tcase_add_test(a, test_assign_random_start_spreads_evenly);
	tcase_add_test(a, test_assign_invalid_replication_factor);
	tcase_add_test(a, test_assign_more_kafka_add_partitions_vector);
	tcase_add_test(a, test_assign_more_invalid);
	tcase_add_test(a, test_validate_assignment_kafka_rules);
	tcase_add_test(e, test_elect_first_live_isr_replica_in_assignment_order);
	tcase_add_test(e, test_elect_unclean_only_when_enabled);
	tcase_add_test(e, test_unclean_config_topic_overrides_broker);
	tcase_add_test(d, test_death_of_leader_elects_next_isr_replica);
	tcase_add_test(d, test_death_of_follower_shrinks_isr_keeps_leader);
	tcase_add_test(d, test_death_of_out_of_sync_follower_changes_nothing);
	tcase_add_test(d, test_death_of_last_isr_member_keeps_it_in_isr);
	tcase_add_test(d, test_death_of_last_isr_member_unclean_elects_live_replica);
	tcase_add_test(r, test_return_of_isr_member_brings_partition_online);
	tcase_add_test(r, test_return_of_non_isr_replica_needs_unclean);
	tcase_add_test(r, test_preferred_replica_leads_again_once_in_sync);
	tcase_add_test(r, test_bounced_leader_never_goes_on_under_the_same_epoch);
	tcase_add_test(n, test_new_state_first_live_replica_leads);
	tcase_add_test(n, test_new_state_without_live_replica_is_not_written);
	tcase_add_test(n, test_stale_controller_epoch_is_refused);
	suite_add_tcase(s, a);
	suite_add_tcase(s, e);
	suite_add_tcase(s, d);
	suite_add_tcase(s, r);
	suite_add_tcase(s, n);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
