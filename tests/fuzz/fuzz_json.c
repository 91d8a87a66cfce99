/*
 * libFuzzer target for the management API's JSON reader (src/http/json.c).
 * Invariants: js_parse either fails or yields nodes whose spans lie inside
 * the input and whose subtrees nest properly; every accessor stays inside;
 * decoded strings are never longer than their source.  And the writer:
 * any bytes written as a JSON string parse back as one string node.
 * tests/fuzz/replay.c runs the same function over the committed corpus in
 * `make check`.
 *
 * Depends on: src/http/json.[ch] only.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

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
