/*
 * Field-table helpers for handlers: neutral headers for exchange/ and the
 * argument equivalence check RabbitMQ applies on redeclare.
 *
 * Must not depend on: other front ends.
 */
#include <string.h>

#include "amqp/amqp.h"

int am_table_to_hdrs(struct am_bytes table, struct ex_hdr *out, size_t max)
{
	struct am_table_iter it;
	struct am_bytes key;
	struct am_value v;
	size_t n = 0;
	am_table_iter_init(&it, table);
	while (am_table_next(&it, &key, &v)) {
		if (n == max)
			return -1;
		out[n].key = (const char *)key.ptr;
		out[n].key_len = key.len;
		out[n].type = v.type;
		out[n].val = v.raw.ptr;
		out[n].val_len = v.raw.len;
		n++;
	}
	return (int)n;
}
