/*
 * Replays fuzz corpora without libFuzzer: feeds every file of each
 * directory (or each file) named on the command line to
 * LLVMFuzzerTestOneInput, once.  With no arguments it replays the corpus
 * compiled in as FUZZ_CORPUS_DIR, which is how `make check` runs it.  A
 * crash or abort fails the test; an empty corpus fails too, since it means
 * nothing was checked.
 *
 * Depends on: libc (POSIX dirent) and one fuzz target.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one file through the target; 1 if it was run, 0 if skipped, -1 on I/O error. */
static int replay_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	FILE *f;
	int rc = -1;

	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISREG(st.st_mode))
		return 0;
	f = fopen(path, "rb");
	if (!f)
		return -1;
	/* exact size, so a sanitizer build sees any over-read */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (buf && fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
		LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
		rc = 1;
	}
	free(buf);
	fclose(f);
	return rc;
}

static int replay_path(const char *path, long *count)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int rc;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: cannot stat\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		rc = replay_file(path);
		*count += rc > 0;
		return rc < 0 ? -1 : 0;
	}
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char full[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
		rc = replay_file(full);
		if (rc < 0) {
			fprintf(stderr, "replay: %s: cannot read\n", full);
			closedir(d);
			return -1;
		}
		*count += rc;
	}
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	long count = 0;
	int i;

#ifdef FUZZ_CORPUS_DIR
	if (argc < 2 && replay_path(FUZZ_CORPUS_DIR, &count) != 0)
		return 1;
#endif
	for (i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) != 0)
			return 1;
	printf("replayed %ld inputs\n", count);
	return count > 0 ? 0 : 1;
}
