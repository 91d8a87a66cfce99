/*
 * libFuzzer target for the management API's JSON reader (src/util/json.c).
 * Invariants: js_parse either fails or yields nodes whose spans lie inside
 * the input and whose subtrees nest properly; every accessor stays inside;
 * decoded strings are never longer than their source, are valid UTF-8
 * (no lone surrogates), and member names hold no NUL.  And the writer:
 * any bytes written as a JSON string parse back as one string node.
 * tests/fuzz/replay.c runs the same function over the committed corpus in
 * `make check`.
 *
 * Depends on: src/util/json.[ch] only.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/json.h"



/* 1 when s[0..n) is UTF-8 as RFC 3629 defines it (no surrogates, no
 * overlong forms, nothing above U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			need = 2, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			need = 3, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			need = 4, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (n - i < need)
			return 0;
		for (size_t k = 1; k < need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need;
	}
	return 1;
}

static void walk(const struct js_doc *d)
{
	for (uint32_t i = 0; i < d->nn; i++) {
		const struct js_node *n = &d->n[i];
		CHECK((size_t)n->off + n->len <= d->srclen);
		CHECK(n->end > i && n->end <= d->nn);
		switch (n->type) {
		case JS_STR: {
			size_t len;
			char *s = js_strdup(d, (int)i, &len);
			CHECK(s != NULL && len <= n->len && s[len] == '\0');
			CHECK(valid_utf8((const unsigned char *)s, len));
			free(s);
			break;
		}
		case JS_NUM: {
			int64_t v;
			double x;
			(void)js_int64(d, (int)i, &v);
			CHECK(js_num(d, (int)i, &x) == 0);
			break;
		}
		case JS_OBJ: {
			uint32_t count = 0;
			for (int k = js_child(d, (int)i); k >= 0;) {
				CHECK(d->n[k].type == JS_STR);
				size_t kl;
				char *key = js_strdup(d, k, &kl);
				CHECK(key != NULL && memchr(key, 0, kl) == NULL);
				free(key);
				int v = js_next(d, (int)i, k);
				CHECK(v > k);
				count++;
				k = js_next(d, (int)i, v);
			}
			CHECK(count == n->count);
			(void)js_get(d, (int)i, "arguments");
			break;
		}
		case JS_ARR: {
			uint32_t count = 0;
			for (int k = js_child(d, (int)i); k >= 0; k = js_next(d, (int)i, k))
				count++;
			CHECK(count == n->count);
			break;
		}
		default:
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct js_doc d;
	char err[128];
	if (js_parse(&d, (const char *)data, size, err, sizeof(err)) == 0) {
		CHECK(d.nn > 0 && d.n[0].end == d.nn);
		walk(&d);
		js_doc_free(&d);
	}
	/* the writer: arbitrary bytes as a string value inside an object */
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_key(&w, "k");
	js_strn(&w, (const char *)data, size);
	js_obj_end(&w);
	if (!w.oom) {
		CHECK(js_parse(&d, w.buf, w.len, err, sizeof(err)) == 0);
		int v = js_get(&d, 0, "k");
		CHECK(js_type_of(&d, v) == JS_STR);
		js_doc_free(&d);
	}
	js_w_free(&w);
	return 0;
}
