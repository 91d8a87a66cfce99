/* Integration tests: damaged files (issue 11, finding 5). A byte flipped in
 * one persistent message's record in the AMQP journal, after a clean stop
 * and after a kill -9: tandemd starts, every other message comes back in
 * order, and the log names the lost journal offset and the quarantine file
 * that holds the damaged bytes. (main refused to start after the clean
 * stop and silently dropped every message after the damage after the
 * crash.) An invalid setting in a topic's metadata file does not stop the
 * broker (main refused to start), and partition folders whose metadata
 * file is missing are kept, the metadata rebuilt (main deleted them).
 *
 * Each test gets a tandemd of its own (th_start_with_args) with its log in
 * a file the test reads. tandemd-only: it edits tandemd's data dir. */
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSG_N 1500
#define VICTIM 700

static char log_path[256];

/* Starts this test's broker with its log in log_path. */
static void start_logged(void)
{
	snprintf(log_path, sizeof(log_path), "%s/tandem-damage-%ld.log",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
	unlink(log_path);
	const char *args[] = { "--log-file", log_path, NULL };
	th_start_with_args(args);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "r+b");
	ck_assert_msg(f != NULL, "open %s", path);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void body_of(int i, char *buf, size_t len)
{
	snprintf(buf, len, "damage-%04d-payload", i);
}

/* Publishes persistent messages [from, to) and waits for their confirms
 * (tags continue from *tag). */
static void publish_confirmed(amqp_connection_state_t c, const char *q, int from, int to, uint64_t *tag)
{
	amqp_basic_properties_t props;
	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	props.delivery_mode = 2;
	for (int i = from; i < to; i++) {
		char body[64];
		body_of(i, body, sizeof(body));
		th_publish_props(c, 1, "", q, 0, &props, amqp_cstring_bytes(body));
	}
	uint64_t want = *tag + (uint64_t)(to - from), acked = *tag;
	while (acked < want) {
		amqp_method_t m;
		ck_assert_msg(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 20000) == 1,
			      "no confirm for tag %" PRIu64, acked + 1);
		amqp_basic_ack_t *a = m.decoded;
		if (a->delivery_tag > acked)
			acked = a->delivery_tag;
	}
	*tag = want;
}

/* CRC-32C (Castagnoli), bit by bit: what a RecordBatch v2 carries. */
static uint32_t crc32c(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

enum damage { FLIP_BYTE, UNDECODABLE };

/* In the journal segment, damages message VICTIM's batch: FLIP_BYTE flips
 * a byte of its body; UNDECODABLE marks the batch with codec 7 (no codec
 * Kafka defines, so none tandem reads) with a CRC that matches, so it passes the
 * open's checks and fails only when decoded.  Returns the base offset of
 * the batch, which must hold no other message. */
static uint64_t damage_victim(const char *datadir, enum damage how)
{
	char path[4096], body[64];
	size_t len;
	snprintf(path, sizeof(path), "%s/queues/__journal-0/00000000000000000000.log", datadir);
	char *log = slurp(path, &len);
	body_of(VICTIM, body, sizeof(body));
	char *hit = memmem(log, len, body, strlen(body));
	ck_assert_msg(hit != NULL, "message %d not found in %s", VICTIM, path);
	size_t at = (size_t)(hit - log), pos = 0;
	uint64_t base = 0;
	for (;;) { /* RecordBatch v2: base offset (8), batch length (4) */
		ck_assert_msg(pos + 12 <= len, "no batch holds position %zu", at);
		uint64_t b = 0;
		uint32_t blen = 0;
		for (int i = 0; i < 8; i++)
			b = b << 8 | (unsigned char)log[pos + (size_t)i];
		for (int i = 8; i < 12; i++)
			blen = blen << 8 | (unsigned char)log[pos + (size_t)i];
		if (at < pos + 12 + blen) {
			/* the batch must hold this message only */
			ck_assert_ptr_null(memmem(log + pos, at - pos, "damage-", 7));
			ck_assert_ptr_null(memmem(hit + 7, pos + 12 + blen - at - 7, "damage-", 7));
			base = b;
			if (how == UNDECODABLE) {
				unsigned char *bt = (unsigned char *)log + pos;
				bt[22] = (unsigned char)(bt[22] | 7); /* attributes: codec 7 */
				uint32_t crc = crc32c(bt + 21, 12 + blen - 21);
				for (int i = 0; i < 4; i++)
					bt[17 + i] = (unsigned char)(crc >> (24 - 8 * i));
			}
			break;
		}
		pos += 12 + blen;
	}
	if (how == FLIP_BYTE)
		log[at + 9] ^= 0x01; /* a digit of the message number */
	spit(path, log, len);
	free(log);
	return base;
}

/* Every message but VICTIM comes back, in order, and the log says which
 * journal offset went and where its bytes are. */
static void check_recovered(const char *q, uint64_t lost, enum damage how)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	ck_assert_uint_eq(th_wait_count(c, 1, q, MSG_N - 1, 10000), MSG_N - 1);
	for (int i = 0; i < MSG_N; i++) {
		if (i == VICTIM)
			continue;
		amqp_message_t m;
		char want[64], got[64];
		ck_assert_msg(th_get(c, 1, q, 1, &m, NULL, NULL, NULL) == 1, "message %d missing", i);
		body_of(i, want, sizeof(want));
		th_body(&m.body, got, sizeof(got));
		ck_assert_msg(strcmp(got, want) == 0, "expected %s, got %s", want, got);
		amqp_destroy_message(&m);
	}
	th_assert_drained(c, 1, q);
	th_close(c);
	size_t len;
	char *log = slurp(log_path, &len), want[128];
	if (how == UNDECODABLE) {
		snprintf(want, sizeof(want), "__journal: records %" PRIu64 "..%" PRIu64 " cannot be decoded", lost,
			 lost);
		ck_assert_msg(strstr(log, want) != NULL, "the log does not say '%s':\n%s", want, log);
		free(log);
		unlink(log_path);
		return;
	}
	snprintf(want, sizeof(want), "offset %" PRIu64 " lost", lost);
	ck_assert_msg(strstr(log, want) != NULL, "the log does not say '%s':\n%s", want, log);
	ck_assert_msg(strstr(log, "__journal-0/00000000000000000000.log") != NULL, "no segment named:\n%s", log);
	ck_assert_msg(strstr(log, "the bytes are in quarantine/__journal-0/") != NULL, "no quarantine:\n%s", log);
	free(log);
	char qdir[4096];
	snprintf(qdir, sizeof(qdir), "%s/queues/quarantine/__journal-0", th_data_dir());
	ck_assert_msg(access(qdir, F_OK) == 0, "%s missing", qdir);
	unlink(log_path);
}

static void journal_damage(int kill9, enum damage how)
{
	char q[128];
	uint64_t tag = 0;
	start_logged();
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "flipq"), 1, 0, 0, NULL, 0);
	amqp_confirm_select(c, 1);
	th_ok_last(c, "confirm.select");
	/* the victim alone in its journal batch: confirmed before and after */
	publish_confirmed(c, q, 0, VICTIM, &tag);
	publish_confirmed(c, q, VICTIM, VICTIM + 1, &tag);
	publish_confirmed(c, q, VICTIM + 1, MSG_N, &tag);
	if (kill9) {
		th_broker_kill9();
		th_destroy(c);
	} else {
		th_close(c);
		ck_assert_int_eq(th_broker_stop(), 0);
	}
	uint64_t lost = damage_victim(th_data_dir(), how);
	th_broker_restart();
	check_recovered(q, lost, how);
}

START_TEST(test_damage_journal_flip_clean_stop)
{
	journal_damage(0, FLIP_BYTE);
}
END_TEST

START_TEST(test_damage_journal_flip_kill9)
{
	journal_damage(1, FLIP_BYTE);
}
END_TEST

/* A batch that passes its CRC but cannot be decoded is skipped at replay,
 * not a reason not to start (main refused to start). */
START_TEST(test_damage_journal_undecodable_batch)
{
	journal_damage(0, UNDECODABLE);
}
END_TEST

static int file_exists(const char *dir, const char *rel)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return access(path, F_OK) == 0;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "create %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void assert_logged(const char *what)
{
	size_t len;
	char *log = slurp(log_path, &len);
	ck_assert_msg(strstr(log, what) != NULL, "the log does not say '%s':\n%s", what, log);
	free(log);
}

START_TEST(test_damage_invalid_topic_setting_starts)
{
	start_logged();
	ck_assert_int_eq(th_broker_stop(), 0);
	char logs[4096];
	snprintf(logs, sizeof(logs), "%s/logs", th_data_dir());
	write_file(logs, "bad.topic", "version=1\npartitions=1\ninternal=0\nconfig.retention.ms=banana\n");
	th_broker_restart(); /* fails the test when tandemd does not start */
	amqp_connection_state_t c = th_connect();
	th_close(c);
	assert_logged("topic bad: invalid setting retention.ms=banana");
	ck_assert(file_exists(logs, "bad-0"));
	unlink(log_path);
}
END_TEST

START_TEST(test_damage_missing_topic_file_keeps_data)
{
	char q[128];
	start_logged();
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "flipq"), 1, 0, 0, NULL, 0);
	uint64_t tag = 0;
	amqp_confirm_select(c, 1);
	th_ok_last(c, "confirm.select");
	publish_confirmed(c, q, 0, 10, &tag);
	th_close(c);
	ck_assert_int_eq(th_broker_stop(), 0);
	/* a topic's partition folder with data, and no "lost.topic" */
	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "mkdir '%s/logs/lost-0' && cp '%s/queues/__journal-0/00000000000000000000.log' '%s/logs/lost-0/'",
		 th_data_dir(), th_data_dir(), th_data_dir());
	ck_assert_int_eq(system(cmd), 0);
	th_broker_restart();
	c = th_connect();
	th_close(c);
	assert_logged("topic lost: metadata file lost.topic missing");
	char logs[4096];
	snprintf(logs, sizeof(logs), "%s/logs", th_data_dir());
	ck_assert(file_exists(logs, "lost.topic"));
	snprintf(cmd, sizeof(cmd), "cmp -s '%s/queues/__journal-0/00000000000000000000.log' '%s/logs/lost-0/00000000000000000000.log'",
		 th_data_dir(), th_data_dir());
	ck_assert_msg(system(cmd) == 0, "the data of lost-0 changed or went");
	unlink(log_path);
}
END_TEST

int main(void)
{
	th_start_private();
	if (th_external()) {
		printf("SKIP: edits tandemd's data dir\n");
		return 77;
	}
	Suite *s = suite_create("damage");
	TCase *tc = th_tcase("damage");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_damage_journal_flip_clean_stop);
	tcase_add_test(tc, test_damage_journal_flip_kill9);
	tcase_add_test(tc, test_damage_journal_undecodable_batch);
	tcase_add_test(tc, test_damage_invalid_topic_setting_starts);
	tcase_add_test(tc, test_damage_missing_topic_file_keeps_data);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
