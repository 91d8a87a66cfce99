/*
 * The group view slot (see group_view.h).
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <stddef.h>
#include <string.h>

#include "core/group_view.h"

static const struct tdm_group_view_ops *view_ops;
static void *view_ctx;

void tdm_group_view_register(const struct tdm_group_view_ops *ops, void *ctx)
{
	view_ops = ops;
	view_ctx = ctx;
}

void tdm_group_view_unregister(void *ctx)
{
	if (view_ctx != ctx)
		return;
	view_ops = NULL;
	view_ctx = NULL;
}

void tdm_group_view_foreach(tdm_group_fn fn, void *arg)
{
	if (view_ops)
		view_ops->foreach(view_ctx, fn, arg);
}

int tdm_group_view_find(const char *name, size_t len, tdm_group_fn fn, void *arg)
{
	return view_ops ? view_ops->find(view_ctx, name, len, fn, arg) : 0;
}

void tdm_group_view_members(const struct tdm_group_info *g, tdm_group_member_fn fn, void *arg)
{
	if (view_ops && g->handle)
		view_ops->members(view_ctx, g->handle, fn, arg);
}

int tdm_group_view_forget(const char *name, size_t len)
{
	return view_ops ? view_ops->forget(view_ctx, name, len) : 0;
}

static void busy_fn(void *arg, const struct tdm_group_info *g)
{
	*(int *)arg = g->nmembers > 0 || strcmp(g->state, "Empty") != 0;
}

int tdm_group_view_busy(const char *name, size_t len)
{
	int busy = 0;

	tdm_group_view_find(name, len, busy_fn, &busy);
	return busy;
}
