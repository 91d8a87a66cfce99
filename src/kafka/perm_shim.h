/* TEMPORARY: core's permission API until branch perms is merged. */
#ifndef TANDEM_KAFKA_PERM_SHIM_H
#define TANDEM_KAFKA_PERM_SHIM_H
#include <string.h>
#include "core/auth.h"
enum tdm_perm { TDM_PERM_CONFIGURE, TDM_PERM_WRITE, TDM_PERM_READ };
static inline int tdm_auth_permitted(const struct tdm_auth *a, const char *user, const char *vhost,
				     enum tdm_perm p, const char *name, size_t len)
{
	(void)p;
	(void)name;
	(void)len;
	return tdm_auth_vhost_allowed(a, user, vhost, strlen(vhost));
}
#endif
