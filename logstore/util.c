/*
 * logstore/util.c: file helpers: whole-buffer pread/pwrite, atomic
 * replacement of small files, recursive removal, error messages, and the
 * status strings.
 *
 * Must not depend on anything but libc and POSIX.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logstore_internal.h"

const char *ls_strerror(int err)
{
	switch (err) {
	case LS_OK: return "success";
	case LS_ERR_NOMEM: return "out of memory";
	case LS_ERR_IO: return "input/output error";
	case LS_ERR_INVALID: return "invalid argument";
	case LS_ERR_EXISTS: return "already exists";
	case LS_ERR_NOT_FOUND: return "not found";
	case LS_ERR_OFFSET_OUT_OF_RANGE: return "offset out of range";
	case LS_ERR_CORRUPT: return "corrupt record batch (CRC mismatch)";
	case LS_ERR_INVALID_RECORD: return "invalid record batch";
	case LS_ERR_TOO_LARGE: return "record batch too large";
	case LS_ERR_UNSUPPORTED_CODEC: return "unsupported compression codec";
	case LS_ERR_INVALID_CONFIG: return "invalid topic config";
	case LS_ERR_INVALID_TOPIC: return "invalid topic name";
	case LS_ERR_LOCKED: return "data directory locked by another process";
	case LS_ERR_BUSY: return "partitions of the topic are being added";
	case LS_ERR_OUT_OF_ORDER_SEQUENCE: return "out of order sequence number";
	case LS_ERR_PRODUCER_FENCED: return "producer epoch older than the current one";
	case LS_ERR_INVALID_TIMESTAMP: return "invalid timestamp";
	default: return "unknown error";
	}
}

int ls_pwrite_full(int fd, const void *buf, size_t len, uint64_t pos)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		pos += (uint64_t)n;
	}
	return 0;
}

int ls_pread_full(int fd, void *buf, size_t len, uint64_t pos)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO; /* the file is shorter than we know it is */
			return -1;
		}
		p += n;
		len -= (size_t)n;
		pos += (uint64_t)n;
	}
	return 0;
}

int ls_fsync_fd(int fd)
{
	while (fsync(fd) != 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int ls_atomic_write(int dirfd, const char *name, const void *buf, size_t len)
{
	char tmp[512];
	int fd = -1, ret = -1, saved;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", name) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	if (ls_pwrite_full(fd, buf, len, 0) != 0 || ls_fsync_fd(fd) != 0)
		goto out;
	if (renameat(dirfd, tmp, dirfd, name) != 0)
		goto out;
	if (ls_fsync_fd(dirfd) != 0)
		goto out;
	ret = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (ret != 0)
		unlinkat(dirfd, tmp, 0);
	errno = saved;
	return ret;
}

int ls_read_file(int dirfd, const char *name, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	int fd, ret = -1, saved;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto out;
	if (ls_pread_full(fd, buf, (size_t)st.st_size, 0) != 0)
		goto out;
	buf[st.st_size] = '\0';
	*out = buf;
	*len = (size_t)st.st_size;
	buf = NULL;
	ret = 0;
out:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return ret;
}

int ls_remove_tree(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (ls_remove_tree(fd, de->d_name) != 0)
			ret = -1;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		ret = -1;
	return ret;
}
