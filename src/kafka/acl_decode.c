/*
 * Decoders of the ACL APIs' requests (Kafka's KIP-140), from their message
 * schemas: DescribeAcls (29), CreateAcls (30) and DeleteAcls (31), v0-3
 * each; v1 adds the resource pattern type (LITERAL before), v2 is the
 * flexible encoding (compact strings and arrays, tagged fields at the end
 * of every struct), v3 allows the USER resource type (the same body).
 * A creation and a filter have the same fields; a creation's strings are
 * not nullable, which the handler checks.  Arrays live in the request's
 * arena; strings are slices of the frame.  Each returns 0 or KF_BAD
 * (short, a count past the end, trailing bytes).
 *
 * Must not depend on anything but libc and decode.c (the fuzz target links
 * them alone).
 */
#include <string.h>

#include "kafka/proto.h"

/* One binding or filter: type, name, pattern type (v1+), principal,
 * host, operation, permission type. */
static void acl_fields(struct kf_cur *c, int ver, struct kf_acl *b)
{
	b->resource_type = kf_get_i8(c);
	b->name = kf_get_str(c);
	b->pattern_type = ver >= 1 ? kf_get_i8(c) : KF_ACL_PATTERN_LITERAL;
	b->principal = kf_get_str(c);
	b->host = kf_get_str(c);
	b->operation = kf_get_i8(c);
	b->permission_type = kf_get_i8(c);
}

int kf_decode_describe_acls(struct kf_cur *c, int ver, struct kf_acl *r)
{
	memset(r, 0, sizeof(*r));
	acl_fields(c, ver, r);
	return kf_decode_end(c);
}

/* CreateAcls' creations and DeleteAcls' filters: an array of bindings. */
static int acl_array(struct kf_cur *c, int ver, struct kf_arena *a, struct kf_acls_req *r)
{
	memset(r, 0, sizeof(*r));
	/* type, 3 strings, 2 int8 (+ pattern type, + tags): 9 bytes at least
	 * classic, 7 compact */
	r->n = kf_get_array(c, c->flex ? 7 : 9, 0);
	if (r->n > 0 && !(r->acls = kf_arena_alloc(a, (size_t)r->n * sizeof(*r->acls))))
		return KF_BAD;
	for (int32_t i = 0; i < r->n && !c->bad; i++) {
		acl_fields(c, ver, &r->acls[i]);
		kf_end_struct(c);
	}
	return kf_decode_end(c);
}

int kf_decode_create_acls(struct kf_cur *c, int ver, struct kf_arena *a, struct kf_acls_req *r)
{
	return acl_array(c, ver, a, r);
}

int kf_decode_delete_acls(struct kf_cur *c, int ver, struct kf_arena *a, struct kf_acls_req *r)
{
	return acl_array(c, ver, a, r);
}
