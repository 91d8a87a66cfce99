#!/usr/bin/env bash
# kcat 1.7 (librdkafka 2.0) against tandemd: metadata, produce with keys
# (murmur2 partitioner) and gzip, consume a partition from the beginning
# and from an offset with exact contents, offsets by time, a consumer group
# that commits and resumes after a broker restart without re-reading; SASL
# (SCRAM-SHA-256/512, PLAIN) as the default user, and a wrong password;
# SASL_SSL on the second listener (KAFKA_SASL_SSL_BOOTSTRAP, KAFKA_CA).
# Topics are created with kafka-python's admin client (kcat cannot).
# Env: KAFKA_BOOTSTRAP, BROKER_CTL (from run.sh).
set -uo pipefail
B=${KAFKA_BOOTSTRAP:?}
fails=0 passes=0
ok() { echo "ok - $1"; passes=$((passes + 1)); }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }
check() { if [ "$2" == "$3" ]; then ok "$1"; else bad "$1: expected [$3], got [$2]"; fi; }
create() { # topic partitions
	/usr/bin/python3 -c "
import sys
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
a = KafkaAdminClient(bootstrap_servers='$B')
a.create_topics([NewTopic(sys.argv[1], int(sys.argv[2]), 1)])
a.close()" "$1" "$2"
}
murmur() { # key partitions -> partition (Kafka's default partitioner)
	/usr/bin/python3 -c "
import sys
from kafka.partitioner.default import murmur2
print((murmur2(sys.argv[1].encode()) & 0x7fffffff) % int(sys.argv[2]))" "$1" "$2"
}
id=$$-$RANDOM
t=kcat-$id

create "$t" 3 || bad "create topic"
check "metadata lists 3 partitions" "$(kcat -b "$B" -L -t "$t" | grep -c 'partition [0-9]*, leader 1')" 3

# keyed produce with Kafka's partitioner
seq 1 30 | sed 's/^/key-&:value-&/' | kcat -b "$B" -P -t "$t" -K: -X partitioner=murmur2_random
wrong=0 total=0
while read -r p k; do
	total=$((total + 1))
	[ "$(murmur "$k" 3)" == "$p" ] || wrong=$((wrong + 1))
done < <(kcat -b "$B" -C -t "$t" -e -q -f '%p %k\n')
check "30 keyed messages consumed" "$total" 30
check "every key on its murmur2 partition" "$wrong" 0

# exact contents of one partition, from the beginning and from an offset
t1=kcat1-$id
create "$t1" 1
seq 0 19 | sed 's/^/line-/' | kcat -b "$B" -P -t "$t1" -p 0
check "from the beginning" "$(kcat -b "$B" -C -t "$t1" -p 0 -o beginning -e -q -f '%o:%s\n' | tr '\n' ' ')" \
	"$(for i in $(seq 0 19); do printf '%d:line-%d ' "$i" "$i"; done)"
check "from offset 15" "$(kcat -b "$B" -C -t "$t1" -p 0 -o 15 -e -q -f '%o:%s\n' | tr '\n' ' ')" \
	"15:line-15 16:line-16 17:line-17 18:line-18 19:line-19 "
check "messages remain after consumption" "$(kcat -b "$B" -C -t "$t1" -p 0 -o beginning -e -q | wc -l)" 20

# gzip
t2=kcat2-$id
create "$t2" 1
seq 1 100 | sed 's/^/compressed-/' | kcat -b "$B" -P -t "$t2" -p 0 -z gzip
check "gzip produce then consume" "$(kcat -b "$B" -C -t "$t2" -p 0 -o beginning -e -q | md5sum)" \
	"$(seq 1 100 | sed 's/^/compressed-/' | md5sum)"

# offsets: end via -o -1 style query, by timestamp with -Q
check "last offset" "$(kcat -b "$B" -C -t "$t1" -p 0 -o -1 -e -q -f '%o\n')" 19
ts=$(kcat -b "$B" -C -t "$t1" -p 0 -o 0 -c 1 -q -f "%T")
check "offset for timestamp" "$(kcat -b "$B" -Q -t "$t1:0:$ts" | grep -o 'offset [0-9]*' | head -1)" "offset 0"

# a consumer group: reads all, commits, resumes after a restart
t3=kcat3-$id
g=kcatgroup-$id
create "$t3" 3
seq 1 9 | kcat -b "$B" -P -t "$t3"
check "group reads all" "$(timeout 30 kcat -b "$B" -G "$g" -X auto.offset.reset=earliest -e -q "$t3" | wc -l)" 9
if [ -n "${BROKER_CTL:-}" ]; then
	"$BROKER_CTL" restart
fi
printf 'ten\neleven\n' | kcat -b "$B" -P -t "$t3" -p 1
check "group resumes after restart without re-reading" \
	"$(timeout 30 kcat -b "$B" -G "$g" -X auto.offset.reset=earliest -e -q "$t3" | tr '\n' ' ')" "ten eleven "

# SASL as the broker's default user (guest, from loopback): SCRAM-SHA-256
# and PLAIN produce and consume; a wrong password is an authentication error
t4=kcat4-$id
create "$t4" 1
sasl() { kcat -b "$B" -X security.protocol=sasl_plaintext -X sasl.mechanisms="$1" \
	-X sasl.username=guest -X sasl.password="$2" "${@:3}"; }
printf 'scram\n' | sasl SCRAM-SHA-256 guest -P -t "$t4" -p 0
printf 'plain\n' | sasl PLAIN guest -P -t "$t4" -p 0
check "SASL SCRAM-SHA-512 consume" \
	"$(sasl SCRAM-SHA-512 guest -C -t "$t4" -p 0 -o beginning -e -q | tr '\n' ' ')" "scram plain "
check "SASL wrong password is an authentication error" \
	"$(timeout 20 kcat -b "$B" -X security.protocol=sasl_plaintext -X sasl.mechanisms=SCRAM-SHA-256 \
		-X sasl.username=guest -X sasl.password=wrong -L -m 5 2>&1 |
		grep -c 'SASL authentication error: Authentication failed' | sed 's/^[1-9][0-9]*$/yes/')" yes

# SASL_SSL (TLS, then SASL) on the broker's second listener: SCRAM-SHA-256
# and PLAIN produce, SCRAM-SHA-512 consumes; TLS without SASL gets nothing
if [ -n "${KAFKA_SASL_SSL_BOOTSTRAP:-}" ]; then
	S=$KAFKA_SASL_SSL_BOOTSTRAP
	t5=kcat5-$id
	create "$t5" 1
	sasl_ssl() { kcat -b "$S" -X security.protocol=sasl_ssl -X ssl.ca.location="$KAFKA_CA" \
		-X sasl.mechanisms="$1" -X sasl.username=guest -X sasl.password=guest "${@:2}"; }
	printf 'scram-tls\n' | sasl_ssl SCRAM-SHA-256 -P -t "$t5" -p 0
	printf 'plain-tls\n' | sasl_ssl PLAIN -P -t "$t5" -p 0
	check "SASL_SSL SCRAM-SHA-512 consume" \
		"$(sasl_ssl SCRAM-SHA-512 -C -t "$t5" -p 0 -o beginning -e -q | tr '\n' ' ')" \
		"scram-tls plain-tls "
	check "SASL_SSL listener without SASL gives no metadata" \
		"$(timeout 20 kcat -b "$S" -X security.protocol=ssl -X ssl.ca.location="$KAFKA_CA" \
			-L -m 5 >/dev/null 2>&1 && echo served || echo refused)" refused
fi

echo "kcat: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
