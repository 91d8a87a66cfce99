/*
 * tests/fuzz/fuzz.h: what every fuzz target shares: libFuzzer's entry
 * point (run by libFuzzer, or by replay.c over the committed corpus in
 * make check) and CHECK, which aborts on a broken invariant so both
 * report it as a crash.
 */
#ifndef TANDEM_FUZZ_H
#define TANDEM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#endif
