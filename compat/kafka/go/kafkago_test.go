package compat

// segmentio/kafka-go 0.2.1 against tandemd: topics created and deleted
// through a Conn, partitions and offsets read through a Conn, a Writer
// with keys and the Hash balancer (plain, gzip, snappy, lz4), read back
// with Sarama, and a group Reader joining, taking all partitions and
// committing.
//
// kafka-go 0.2.1 reads records with Fetch v2 and parses only the message
// sets of magic 0 and 1; tandem stores RecordBatch v2 and serves Fetch v4
// and later (no down-conversion, as Kafka 4.0: KIP-896), so its Reader
// and Conn.ReadMessage get no records: the reads here go through Sarama.
// See compat/kafka/README.md.

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/Shopify/sarama"
	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/gzip"
	"github.com/segmentio/kafka-go/lz4"
	"github.com/segmentio/kafka-go/snappy"
)

func dial(t *testing.T) *kafka.Conn {
	t.Helper()
	d := &kafka.Dialer{Timeout: 10 * time.Second, ClientID: "tandem-compat-kafka-go"}
	c, err := d.Dial("tcp", boot)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

func kgCreate(t *testing.T, topic string, partitions int) {
	t.Helper()
	c := dial(t)
	defer c.Close()
	if err := c.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions,
		ReplicationFactor: 1}); err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
}

// CreateTopics (v0) with a config entry (described back by Sarama),
// ReadPartitions (Metadata v1), DeleteTopics (v1).
func TestKafkaGoAdmin(t *testing.T) {
	topic := name("kgadmin")
	c := dial(t)
	defer c.Close()
	if err := c.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 3, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "7200000"}}}); err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	// kafka-go makes CreateTopics idempotent: it turns the broker's
	// TOPIC_ALREADY_EXISTS into success
	if err := c.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 3,
		ReplicationFactor: 1}); err != nil {
		t.Fatalf("CreateTopics again: %v", err)
	}
	parts, err := c.ReadPartitions(topic)
	if err != nil || len(parts) != 3 {
		t.Fatalf("ReadPartitions: %v %v", parts, err)
	}
	ids := []int{}
	for _, p := range parts {
		if p.Topic != topic || len(p.Replicas) != 1 || len(p.Isr) != 1 || p.Leader.Port == 0 {
			t.Fatalf("partition %+v", p)
		}
		ids = append(ids, p.ID)
	}
	sort.Ints(ids)
	if fmt.Sprint(ids) != "[0 1 2]" {
		t.Fatalf("partition ids %v", ids)
	}

	a := admin(t)
	defer a.Close()
	entries, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		t.Fatalf("DescribeConfig: %v", err)
	}
	found := false
	for _, e := range entries {
		found = found || (e.Name == "retention.ms" && e.Value == "7200000")
	}
	if !found {
		t.Fatalf("retention.ms from CreateTopics not described: %+v", entries)
	}

	if err := c.DeleteTopics(topic); err != nil {
		t.Fatalf("DeleteTopics: %v", err)
	}
	if !eventually(10*time.Second, func() bool {
		topics, err := a.ListTopics()
		_, still := topics[topic]
		return err == nil && !still
	}) {
		t.Fatalf("%s still listed after DeleteTopics", topic)
	}
}

// A Writer with keys and the Hash balancer: each record lands in the
// partition kafka-go's Hash balancer picks (FNV-1a, as Sarama's but
// without its sign handling), in order, compressed by kafka-go with each
// codec it has (Produce v2, message sets of magic 1); read back exactly
// with Sarama.  A Conn then reads each partition's first and last offsets
// (ListOffsets v1).
func TestKafkaGoWriterKeyed(t *testing.T) {
	codecs := []kafka.CompressionCodec{nil, gzip.NewCompressionCodec(), snappy.NewCompressionCodec(),
		lz4.NewCompressionCodec()}
	for _, codec := range codecs {
		label := "none"
		if codec != nil {
			label = map[int8]string{1: "gzip", 2: "snappy", 3: "lz4"}[codec.Code()]
		}
		codec := codec
		t.Run(label, func(t *testing.T) {
			topic := name("kgwrite-" + label)
			kgCreate(t, topic, 3)
			w := kafka.NewWriter(kafka.WriterConfig{Brokers: []string{boot}, Topic: topic,
				Balancer: &kafka.Hash{}, BatchSize: 25, BatchTimeout: 20 * time.Millisecond,
				CompressionCodec: codec, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
				Dialer: &kafka.Dialer{Timeout: 10 * time.Second, ClientID: "tandem-compat-kafka-go"}})
			balancer := &kafka.Hash{}
			want := map[int][]kafka.Message{}
			var msgs []kafka.Message
			for i := 0; i < 90; i++ {
				m := kafka.Message{Key: []byte(fmt.Sprintf("key-%d", i%15)),
					Value: []byte(fmt.Sprintf("%s value %d %050d", label, i, i))}
				p := balancer.Balance(m, 0, 1, 2)
				want[p] = append(want[p], m)
				msgs = append(msgs, m)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatalf("WriteMessages: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Writer.Close: %v", err)
			}
			if len(want) < 2 {
				t.Fatalf("15 keys all in one partition")
			}
			for p := 0; p < 3; p++ {
				recs := want[p]
				conn, err := kafka.DialLeader(ctx, "tcp", boot, topic, p)
				if err != nil {
					t.Fatalf("DialLeader %d: %v", p, err)
				}
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				first, last, err := conn.ReadOffsets()
				conn.Close()
				if err != nil || first != 0 || last != int64(len(recs)) {
					t.Fatalf("partition %d: offsets %d-%d (%v), want 0-%d", p, first, last, err, len(recs))
				}
				if len(recs) == 0 {
					continue
				}
				got := readPartition(t, topic, int32(p), sarama.OffsetOldest, len(recs), 20*time.Second)
				for i, m := range got {
					if m.Offset != int64(i) || string(m.Key) != string(recs[i].Key) ||
						string(m.Value) != string(recs[i].Value) {
						t.Fatalf("partition %d record %d: offset %d %q=%q, want %q=%q", p, i, m.Offset,
							m.Key, m.Value, recs[i].Key, recs[i].Value)
					}
				}
			}
		})
	}
}

// A group Reader (GroupID set) finds the coordinator (FindCoordinator v0),
// joins (JoinGroup v1), assigns all 3 partitions to itself as the leader
// (SyncGroup v0) and heartbeats; CommitMessages commits (OffsetCommit v2)
// what Sarama then fetches as the group's offsets.  kafka-go 0.2.1's Close
// cancels its context before dialing the coordinator for LeaveGroup, so
// the dial fails and it never leaves: the group goes Empty when the
// member's session (6 s) times out, as with Kafka.
func TestKafkaGoGroupReaderCommits(t *testing.T) {
	topic, group := name("kggroup"), name("kg")
	kgCreate(t, topic, 3)
	for p := int32(0); p < 3; p++ {
		produceTo(t, topic, p, "a", "b", "c", "d", "e")
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{boot}, GroupID: group, Topic: topic,
		HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 6 * time.Second,
		RebalanceTimeout: 10 * time.Second, MaxWait: 200 * time.Millisecond,
		Dialer: &kafka.Dialer{Timeout: 10 * time.Second, ClientID: "tandem-compat-kafka-go"}})
	closed := false
	defer func() {
		if !closed {
			r.Close()
		}
	}()
	a := admin(t)
	defer a.Close()
	var d *sarama.GroupDescription
	if !eventually(30*time.Second, func() bool {
		desc, err := a.DescribeConsumerGroups([]string{group})
		if err != nil || len(desc) != 1 {
			return false
		}
		d = desc[0]
		return d.State == "Stable" && len(d.Members) == 1
	}) {
		t.Fatalf("the kafka-go reader never made %s Stable: %+v", group, d)
	}
	for id, m := range d.Members {
		if m.ClientId != "tandem-compat-kafka-go" {
			t.Errorf("member %s: client id %q", id, m.ClientId)
		}
		ma, err := m.GetMemberAssignment()
		if err != nil || len(ma.Topics[topic]) != 3 {
			t.Fatalf("member %s: assignment %+v (%v), want all 3 partitions", id, ma, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.CommitMessages(ctx, kafka.Message{Topic: topic, Partition: 0, Offset: 2},
		kafka.Message{Topic: topic, Partition: 2, Offset: 4}); err != nil {
		t.Fatalf("CommitMessages: %v", err)
	}
	offs, err := a.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2}})
	if err != nil {
		t.Fatalf("ListConsumerGroupOffsets: %v", err)
	}
	for p, want := range map[int32]int64{0: 3, 1: -1, 2: 5} {
		if b := offs.GetBlock(topic, p); b == nil || b.Offset != want {
			t.Fatalf("partition %d: committed %+v, want %d", p, b, want)
		}
	}
	closed = true
	if err := r.Close(); err != nil {
		t.Fatalf("Reader.Close: %v", err)
	}
	if !eventually(20*time.Second, func() bool {
		desc, err := a.DescribeConsumerGroups([]string{group})
		return err == nil && len(desc) == 1 && desc[0].State == "Empty"
	}) {
		t.Fatalf("%s not Empty 20 s after the reader closed (session timeout 6 s)", group)
	}
}
