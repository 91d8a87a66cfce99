/*
 * Kafka's ACL bindings over RabbitMQ permissions, shared by the ACL
 * handlers (acls.c) and the model (acl_bindings.c).
 *
 * Must not depend on: src/amqp, src/http.
 */
#ifndef TANDEM_KAFKA_ACLS_INTERNAL_H
#define TANDEM_KAFKA_ACLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kafka/kf.h"

/* The CLUSTER resource's only name, as Kafka's. */
#define KF_ACL_CLUSTER_NAME "kafka-cluster"

/* One binding: host "*" and ALLOW, always. */
struct kf_acl_entry {
	int8_t rtype, ptype, op; /* KF_ACL_RES_*, KF_ACL_PATTERN_*, KF_OP_* */
	char *name;              /* owned */
	char *user;              /* owned; the principal is "User:" + user */
};
struct kf_acl_list {
	struct kf_acl_entry *v; /* owned */
	size_t n, cap;
};
void kf_acl_list_free(struct kf_acl_list *l);

/* Appends to l the bindings user's patterns on vhost stand for (each of
 * their alternatives of a form core/perm_alts.h names), and CLUSTER ALL
 * when tags has administrator.  0 or -1 (no memory). */
int kf_acl_user_bindings(const struct tdm_auth *a, const char *user, const char *tags,
			 const char *vhost, struct kf_acl_list *l);
/* 1 when binding e passes filter f (Kafka's AclBindingFilter; f checked
 * to hold no UNKNOWN value). */
int kf_acl_matches(const struct kf_acl *f, const struct kf_acl_entry *e);
/* The patterns (bits 1 << enum tdm_perm) operation op on a resource of
 * type rtype maps to; 0 with *why set when it maps to none. */
int kf_acl_op_patterns(int8_t rtype, int8_t op, const char **why);
/*
 * Adds (add) or removes the alternative for ptype and name (LITERAL "*":
 * ".*") in the given patterns of user on vhost (absent ones are "") and
 * persists the user as the management API does (in a cluster: a
 * proposal, left for kf_acl_answer); nothing when nothing changes.  0, or -1 with err set when the auth refuses (err may be
 * empty: no memory).
 */
int kf_acl_change(struct kf_server *srv, const char *vhost, const char *user, int patterns,
		  int8_t ptype, const char *name, int add, char *err, size_t errlen);

/* The end of a CreateAcls or DeleteAcls whose answer is in kc->resp:
 * KF_R_DONE, or KF_R_PARKED until this node applied the cluster's
 * proposals of its changes (acl_wait.c), or KF_R_CLOSE. */
int kf_acl_answer(struct kf_conn *kc);

#endif
