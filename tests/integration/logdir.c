/* tests/integration/logdir.h */
#include "logdir.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

long long ld_oldest_segment(const char *dir, int *nsegs)
{
	DIR *d = opendir(dir);
	long long low = -1;
	int n = 0;
	struct dirent *de;
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".log") != 0)
			continue;
		long long base = strtoll(de->d_name, NULL, 10);
		n++;
		if (low < 0 || base < low)
			low = base;
	}
	closedir(d);
	if (nsegs)
		*nsegs = n;
	return low;
}
