/*
 * exchange/topic_match.c: AMQP topic words and the standalone pattern test
 * ex_topic_match, independent of the trie in topic.c (tests use one to
 * check the other).
 *
 * Semantics are RabbitMQ's: words are separated by '.'; "*" matches exactly
 * one word, "#" zero or more; empty words are words ("a..b" has three), but
 * the empty string has none, so "" matches "" and "#" but not "*".
 *
 * Must not depend on anything outside libc.
 */
#include <string.h>

#include "exchange_internal.h"

int ex_words_next(struct ex_words *w, const char **word, size_t *wlen)
{
	const char *start, *dot;
	size_t n;

	if (w->pos > w->len)
		return 0;
	start = w->s + w->pos;
	dot = w->pos < w->len ? memchr(start, '.', w->len - w->pos) : NULL;
	n = dot != NULL ? (size_t)(dot - start) : w->len - w->pos;
	*word = start;
	*wlen = n;
	w->pos += n + 1; /* past the dot, or to len + 1 at the end */
	return 1;
}

static int word_is(const char *w, size_t wl, char c)
{
	return wl == 1 && w[0] == c;
}

/*
 * The classic wildcard walk with one backtrack point: on a mismatch the
 * most recent "#" swallows one more key word.  Remembering only the latest
 * "#" is enough because an earlier one could only swallow what the later
 * one can.  No allocation, O(pattern words * key words) worst case.
 */
int ex_topic_match(const char *pattern, size_t plen, const char *key, size_t klen)
{
	struct ex_words p, k, back_p = {NULL, 0, 1}, back_k = {NULL, 0, 1};
	int have_back = 0;
	const char *pw, *kw;
	size_t pwl, kwl;

	ex_words_init(&p, pattern, plen);
	ex_words_init(&k, key, klen);
	for (;;) {
		struct ex_words k2 = k, p2 = p;

		if (!ex_words_next(&k2, &kw, &kwl))
			break;
		if (ex_words_next(&p2, &pw, &pwl)) {
			if (word_is(pw, pwl, '#')) {
				/* Try "#" as zero words first. */
				have_back = 1;
				back_p = p2;
				back_k = k;
				p = p2;
				continue;
			}
			if (word_is(pw, pwl, '*') ||
			    (pwl == kwl && memcmp(pw, kw, kwl) == 0)) {
				p = p2;
				k = k2;
				continue;
			}
		}
		if (!have_back)
			return 0;
		/* back_k is at or before k, so it has a word to give up. */
		ex_words_next(&back_k, &kw, &kwl);
		k = back_k;
		p = back_p;
	}
	/* Key used up: the rest of the pattern must be able to match nothing. */
	while (ex_words_next(&p, &pw, &pwl))
		if (!word_is(pw, pwl, '#'))
			return 0;
	return 1;
}
