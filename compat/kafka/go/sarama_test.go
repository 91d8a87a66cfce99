package compat

// Sarama 1.22.1 against tandemd: cluster admin, a keyed SyncProducer,
// partition consumers, compression, the idempotent producer, a consumer
// group of two members with commits and a broker restart, SASL PLAIN.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/ioutil"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/Shopify/sarama"
)

func TestSaramaAdmin(t *testing.T) {
	a := admin(t)
	defer a.Close()
	topic := name("sadmin")
	retention := "3600000"
	if err := a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"retention.ms": &retention}}, false); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	err := a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	var terr *sarama.TopicError
	if !errors.As(err, &terr) || terr.Err != sarama.ErrTopicAlreadyExists {
		t.Fatalf("CreateTopic again: %v, want TOPIC_ALREADY_EXISTS", err)
	}

	topics, err := a.ListTopics()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if d, ok := topics[topic]; !ok || d.NumPartitions != 3 || d.ReplicationFactor != 1 {
		t.Fatalf("ListTopics: %s is %+v (present %v)", topic, d, ok)
	}

	// DescribeCluster sends Metadata v0, which has no controller (Sarama
	// says -1); a Client's Controller() asks with v5
	brokers, _, err := a.DescribeCluster()
	if err != nil || len(brokers) != 1 {
		t.Fatalf("DescribeCluster: %v brokers, %v", len(brokers), err)
	}
	client, err := sarama.NewClient([]string{boot}, saramaConfig())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer client.Close()
	if ctl, err := client.Controller(); err != nil || ctl.ID() != brokers[0].ID() {
		t.Fatalf("Controller: %v %v", ctl, err)
	}

	describe := func() *sarama.TopicMetadata {
		md, err := a.DescribeTopics([]string{topic})
		if err != nil || len(md) != 1 || md[0].Err != sarama.ErrNoError {
			t.Fatalf("DescribeTopics: %v %v", md, err)
		}
		return md[0]
	}
	md := describe()
	if len(md.Partitions) != 3 {
		t.Fatalf("DescribeTopics: %d partitions", len(md.Partitions))
	}
	for _, p := range md.Partitions {
		if p.Leader != brokers[0].ID() || len(p.Replicas) != 1 || len(p.Isr) != 1 {
			t.Fatalf("partition %d: leader %d replicas %v isr %v", p.ID, p.Leader, p.Replicas, p.Isr)
		}
	}

	entries, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		t.Fatalf("DescribeConfig: %v", err)
	}
	got := map[string]sarama.ConfigEntry{}
	for _, e := range entries {
		got[e.Name] = e
	}
	if e, ok := got["retention.ms"]; !ok || e.Value != retention || e.Default {
		t.Fatalf("DescribeConfig retention.ms: %+v (present %v)", e, ok)
	}
	if e, ok := got["cleanup.policy"]; !ok || e.Value != "delete" {
		t.Fatalf("DescribeConfig cleanup.policy: %+v (present %v)", e, ok)
	}

	if err := a.CreatePartitions(topic, 5, nil, false); err != nil {
		t.Fatalf("CreatePartitions: %v", err)
	}
	if n := len(describe().Partitions); n != 5 {
		t.Fatalf("after CreatePartitions: %d partitions", n)
	}

	if err := a.DeleteTopic(topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	if !eventually(10*time.Second, func() bool {
		topics, err := a.ListTopics()
		_, still := topics[topic]
		return err == nil && !still
	}) {
		t.Fatalf("%s still listed after DeleteTopic", topic)
	}
	if err := a.DeleteTopic(topic); err != sarama.ErrUnknownTopicOrPartition {
		t.Fatalf("DeleteTopic again: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

// Keyed records land where Sarama's default (FNV-1a hash) partitioner
// says, at consecutive offsets from 0 in each partition, and read back
// exactly (keys, values, headers, timestamps), from the oldest and from an
// offset.
func TestSaramaKeyedProduceAndConsume(t *testing.T) {
	topic := name("skeyed")
	createTopic(t, topic, 3, nil)
	cfg := saramaConfig()
	p, err := sarama.NewSyncProducer([]string{boot}, cfg)
	if err != nil {
		t.Fatalf("NewSyncProducer: %v", err)
	}
	part := sarama.NewHashPartitioner(topic)
	type rec struct{ key, value string }
	want := map[int32][]rec{}
	ts := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for i := 0; i < 60; i++ {
		key, value := fmt.Sprintf("key-%d", i%12), fmt.Sprintf("value-%d", i)
		msg := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key),
			Value: sarama.StringEncoder(value), Timestamp: ts,
			Headers: []sarama.RecordHeader{{Key: []byte("i"), Value: []byte(fmt.Sprint(i))}}}
		expect, err := part.Partition(msg, 3)
		if err != nil {
			t.Fatal(err)
		}
		gotPart, offset, err := p.SendMessage(msg)
		if err != nil {
			t.Fatalf("SendMessage %d: %v", i, err)
		}
		if gotPart != expect {
			t.Fatalf("key %s went to partition %d, the hash partitioner says %d", key, gotPart, expect)
		}
		if offset != int64(len(want[gotPart])) {
			t.Fatalf("record %d at offset %d of partition %d, want %d", i, offset, gotPart,
				len(want[gotPart]))
		}
		want[gotPart] = append(want[gotPart], rec{key, value})
	}
	p.Close()
	if len(want) < 2 {
		t.Fatalf("12 keys all in one partition: %v", want)
	}

	client, err := sarama.NewClient([]string{boot}, saramaConfig())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer client.Close()
	for partition := int32(0); partition < 3; partition++ {
		recs := want[partition]
		newest, err := client.GetOffset(topic, partition, sarama.OffsetNewest)
		oldest, err2 := client.GetOffset(topic, partition, sarama.OffsetOldest)
		if err != nil || err2 != nil || newest != int64(len(recs)) || oldest != 0 {
			t.Fatalf("partition %d: offsets %d-%d (%v, %v), want 0-%d", partition, oldest, newest,
				err, err2, len(recs))
		}
		if len(recs) == 0 {
			continue
		}
		msgs := readPartition(t, topic, partition, sarama.OffsetOldest, len(recs), 15*time.Second)
		for i, m := range msgs {
			if m.Offset != int64(i) || string(m.Key) != recs[i].key || string(m.Value) != recs[i].value {
				t.Fatalf("partition %d record %d: offset %d %q=%q, want %q=%q", partition, i,
					m.Offset, m.Key, m.Value, recs[i].key, recs[i].value)
			}
			if !m.Timestamp.Equal(ts) {
				t.Fatalf("partition %d record %d: timestamp %v, want %v", partition, i, m.Timestamp, ts)
			}
			if len(m.Headers) != 1 || string(m.Headers[0].Key) != "i" {
				t.Fatalf("partition %d record %d: headers %v", partition, i, m.Headers)
			}
		}
		// again, from an offset: the records stay after being read
		from := int64(len(recs) / 2)
		again := readPartition(t, topic, partition, from, len(recs)-int(from), 15*time.Second)
		if again[0].Offset != from || string(again[0].Value) != recs[from].value {
			t.Fatalf("partition %d from %d: offset %d %q", partition, from, again[0].Offset,
				again[0].Value)
		}
	}
	// Kafka's answer to an offset past the end
	c, err := sarama.NewConsumer([]string{boot}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ConsumePartition(topic, 0, int64(len(want[0])+5)); err != sarama.ErrOffsetOutOfRange {
		t.Fatalf("ConsumePartition past the end: %v, want OFFSET_OUT_OF_RANGE", err)
	}
}

// 300 keyed records per codec Sarama 1.22.1 compresses itself, in batches
// of many records, read back exactly.
func TestSaramaCompression(t *testing.T) {
	for _, codec := range []sarama.CompressionCodec{sarama.CompressionGZIP, sarama.CompressionSnappy,
		sarama.CompressionLZ4} {
		codec := codec
		t.Run(codec.String(), func(t *testing.T) {
			topic := name("scodec-" + codec.String())
			createTopic(t, topic, 1, nil)
			cfg := saramaConfig()
			cfg.Producer.Compression = codec
			cfg.Producer.Flush.Messages = 50
			cfg.Producer.Flush.Frequency = 50 * time.Millisecond
			p, err := sarama.NewAsyncProducer([]string{boot}, cfg)
			if err != nil {
				t.Fatalf("NewAsyncProducer: %v", err)
			}
			const n = 300
			go func() {
				for i := 0; i < n; i++ {
					p.Input() <- &sarama.ProducerMessage{Topic: topic,
						Key:   sarama.StringEncoder(fmt.Sprintf("k%d", i)),
						Value: sarama.StringEncoder(fmt.Sprintf("%s value %d %0100d", codec, i, i))}
				}
			}()
			deadline := time.After(30 * time.Second)
			for acked := 0; acked < n; {
				select {
				case <-p.Successes():
					acked++
				case err := <-p.Errors():
					t.Fatalf("produce: %v", err)
				case <-deadline:
					t.Fatalf("%d of %d acknowledged", acked, n)
				}
			}
			p.Close()
			msgs := readPartition(t, topic, 0, sarama.OffsetOldest, n, 20*time.Second)
			for i, m := range msgs {
				if m.Offset != int64(i) || string(m.Key) != fmt.Sprintf("k%d", i) ||
					string(m.Value) != fmt.Sprintf("%s value %d %0100d", codec, i, i) {
					t.Fatalf("record %d: offset %d %q=%q", i, m.Offset, m.Key, m.Value)
				}
			}
		})
	}
}

// Sarama 1.22.1 sends zstd batches in Produce v3 whatever its Version: a
// Kafka broker (2.1 and later) refuses zstd below Produce v7 with
// UNSUPPORTED_COMPRESSION_TYPE, and so does tandem.  Sarama fixed it in
// 1.24 (Produce v7 for zstd); documented in compat/kafka/README.md.
func TestSaramaZstdNeedsProduceV7(t *testing.T) {
	topic := name("szstd")
	createTopic(t, topic, 1, nil)
	cfg := saramaConfig()
	cfg.Producer.Compression = sarama.CompressionZSTD
	cfg.Producer.Retry.Max = 0
	p, err := sarama.NewSyncProducer([]string{boot}, cfg)
	if err != nil {
		t.Fatalf("NewSyncProducer: %v", err)
	}
	defer p.Close()
	_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("z")})
	if err != sarama.ErrUnsupportedCompressionType {
		t.Fatalf("zstd in Produce v3: %v, want UNSUPPORTED_COMPRESSION_TYPE", err)
	}
}

// The idempotent producer: InitProducerId, then batches carrying its
// producer id and sequence numbers; 200 records at offsets 0-199, once each.
func TestSaramaIdempotentProducer(t *testing.T) {
	topic := name("sidem")
	createTopic(t, topic, 1, nil)
	cfg := saramaConfig()
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 5
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Flush.Messages = 20
	cfg.Producer.Flush.Frequency = 20 * time.Millisecond
	p, err := sarama.NewAsyncProducer([]string{boot}, cfg)
	if err != nil {
		t.Fatalf("NewAsyncProducer (idempotent): %v", err)
	}
	const n = 200
	go func() {
		for i := 0; i < n; i++ {
			p.Input() <- &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprint(i)),
				Metadata: i}
		}
	}()
	offsets := map[int]int64{}
	deadline := time.After(30 * time.Second)
	for len(offsets) < n {
		select {
		case m := <-p.Successes():
			offsets[m.Metadata.(int)] = m.Offset
		case err := <-p.Errors():
			t.Fatalf("idempotent produce: %v", err)
		case <-deadline:
			t.Fatalf("%d of %d acknowledged", len(offsets), n)
		}
	}
	p.Close()
	for i := 0; i < n; i++ {
		if offsets[i] != int64(i) {
			t.Fatalf("record %d acknowledged at offset %d", i, offsets[i])
		}
	}
	msgs := readPartition(t, topic, 0, sarama.OffsetOldest, n, 20*time.Second)
	for i, m := range msgs {
		if string(m.Value) != fmt.Sprint(i) {
			t.Fatalf("offset %d: %q", i, m.Value)
		}
	}
}

// groupMember records what a sarama.ConsumerGroup member was given and read.
type groupMember struct {
	mu     sync.Mutex
	claims []int32
	values []string
}

func (m *groupMember) Setup(s sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims = nil
	for _, ps := range s.Claims() {
		m.claims = append(m.claims, ps...)
	}
	sort.Slice(m.claims, func(i, j int) bool { return m.claims[i] < m.claims[j] })
	return nil
}

func (m *groupMember) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (m *groupMember) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for msg := range c.Messages() {
		m.mu.Lock()
		m.values = append(m.values, string(msg.Value))
		m.mu.Unlock()
		s.MarkMessage(msg, "")
	}
	return nil
}

func (m *groupMember) snapshot() ([]int32, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32(nil), m.claims...), append([]string(nil), m.values...)
}

func groupConfig() *sarama.Config {
	cfg := saramaConfig()
	cfg.ClientID = "tandem-compat-sarama-group"
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 10 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	return cfg
}

// runMember consumes in a loop (Consume returns at each rebalance) until ctx ends.
func runMember(ctx context.Context, t *testing.T, group, topic string, m *groupMember,
	wg *sync.WaitGroup) sarama.ConsumerGroup {
	cg, err := sarama.NewConsumerGroup([]string{boot}, group, groupConfig())
	if err != nil {
		t.Fatalf("NewConsumerGroup: %v", err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, m); err != nil && ctx.Err() == nil {
				t.Logf("Consume: %v", err)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case err, ok := <-cg.Errors():
				if !ok {
					return
				}
				t.Logf("group error: %v", err)
			case <-ctx.Done():
				return
			}
		}
	}()
	return cg
}

func produceTo(t *testing.T, topic string, partition int32, values ...string) {
	t.Helper()
	cfg := saramaConfig()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{boot}, cfg)
	if err != nil {
		t.Fatalf("NewSyncProducer: %v", err)
	}
	defer p.Close()
	var msgs []*sarama.ProducerMessage
	for _, v := range values {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: partition,
			Value: sarama.StringEncoder(v)})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("SendMessages: %v", err)
	}
}

// Two sarama.ConsumerGroup members split 3 partitions (disjoint claims
// covering all three) and read the 30 records between them, committing as
// they go; the group is listed and described (Stable, 2 members with
// Sarama's client id), then Empty with offsets 10/10/10 once they left.
// After a broker restart, a new member of the group reads only the 6
// records produced since, nothing already committed.
func TestSaramaConsumerGroup(t *testing.T) {
	topic, group := name("sgroup"), name("sg")
	createTopic(t, topic, 3, nil)
	for p := int32(0); p < 3; p++ {
		var vs []string
		for i := 0; i < 10; i++ {
			vs = append(vs, fmt.Sprintf("p%d-%d", p, i))
		}
		produceTo(t, topic, p, vs...)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	members := []*groupMember{{}, {}}
	cgs := []sarama.ConsumerGroup{runMember(ctx, t, group, topic, members[0], &wg)}
	time.Sleep(time.Second)
	cgs = append(cgs, runMember(ctx, t, group, topic, members[1], &wg))

	split := func() bool {
		c0, v0 := members[0].snapshot()
		c1, v1 := members[1].snapshot()
		seen := map[string]bool{}
		for _, v := range append(v0, v1...) {
			seen[v] = true
		}
		all := map[int32]bool{}
		for _, p := range append(c0, c1...) {
			all[p] = true
		}
		return len(c0) > 0 && len(c1) > 0 && len(c0)+len(c1) == 3 && len(all) == 3 && len(seen) == 30
	}
	ok := eventually(60*time.Second, split)
	a := admin(t)
	defer a.Close()
	if ok {
		desc, err := a.DescribeConsumerGroups([]string{group})
		if err != nil || len(desc) != 1 {
			t.Fatalf("DescribeConsumerGroups: %v %v", desc, err)
		}
		d := desc[0]
		if d.State != "Stable" || d.ProtocolType != "consumer" || len(d.Members) != 2 {
			t.Errorf("described %s: state %s, protocol type %s, %d members", group, d.State,
				d.ProtocolType, len(d.Members))
		}
		for id, m := range d.Members {
			if m.ClientId != "tandem-compat-sarama-group" {
				t.Errorf("member %s: client id %q", id, m.ClientId)
			}
		}
		time.Sleep(time.Second) // a few commit intervals
	}
	cancel()
	for _, cg := range cgs {
		if err := cg.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	wg.Wait()
	c0, v0 := members[0].snapshot()
	c1, v1 := members[1].snapshot()
	if !ok {
		t.Fatalf("no split of 3 partitions between 2 members reading 30 records: %v %d, %v %d",
			c0, len(v0), c1, len(v1))
	}

	groups, err := a.ListConsumerGroups()
	if err != nil || groups[group] != "consumer" {
		t.Fatalf("ListConsumerGroups: %v %v", groups, err)
	}
	if !eventually(20*time.Second, func() bool { // LeaveGroup, else the 10 s session
		desc, err := a.DescribeConsumerGroups([]string{group})
		return err == nil && len(desc) == 1 && desc[0].State == "Empty"
	}) {
		t.Fatalf("%s not Empty after its members closed", group)
	}
	checkOffsets := func(a sarama.ClusterAdmin, want int64) {
		t.Helper()
		offs, err := a.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2}})
		if err != nil {
			t.Fatalf("ListConsumerGroupOffsets: %v", err)
		}
		for p := int32(0); p < 3; p++ {
			b := offs.GetBlock(topic, p)
			if b == nil || b.Err != sarama.ErrNoError || b.Offset != want {
				t.Fatalf("committed offset of partition %d: %+v, want %d", p, b, want)
			}
		}
	}
	checkOffsets(a, 10)

	restartBroker(t)
	for p := int32(0); p < 3; p++ {
		produceTo(t, topic, p, fmt.Sprintf("p%d-new-0", p), fmt.Sprintf("p%d-new-1", p))
	}
	ctx, cancel = context.WithCancel(context.Background())
	again := &groupMember{}
	cg := runMember(ctx, t, group, topic, again, &wg)
	eventually(30*time.Second, func() bool { _, v := again.snapshot(); return len(v) >= 6 })
	time.Sleep(2 * time.Second) // anything re-read would come now
	cancel()
	if err := cg.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	_, got := again.snapshot()
	sort.Strings(got)
	want := []string{"p0-new-0", "p0-new-1", "p1-new-0", "p1-new-1", "p2-new-0", "p2-new-1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the restart the group read %v, want %v", got, want)
	}
	a2 := admin(t) // a's connection died with the broker
	defer a2.Close()
	checkOffsets(a2, 12)
}

// SASL PLAIN as the default user (SaslHandshake v0, then the bare token:
// Sarama 1.22.1's way), over plaintext and over SASL_SSL with the test CA;
// a wrong password never gets metadata.
func TestSaramaSASLPlain(t *testing.T) {
	topic := name("ssasl")
	createTopic(t, topic, 1, nil)
	send := func(addr string, tlsCfg *tls.Config, password, value string) error {
		cfg := saramaConfig()
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		cfg.Net.SASL.User, cfg.Net.SASL.Password = "guest", password
		cfg.Metadata.Retry.Max = 1
		if tlsCfg != nil {
			cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, tlsCfg
		}
		p, err := sarama.NewSyncProducer([]string{addr}, cfg)
		if err != nil {
			return err
		}
		defer p.Close()
		_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(value)})
		return err
	}
	if err := send(boot, nil, "guest", "plain"); err != nil {
		t.Fatalf("SASL PLAIN: %v", err)
	}
	if err := send(boot, nil, "wrong", "never"); err == nil {
		t.Fatalf("SASL PLAIN with a wrong password produced")
	}
	want := []string{"plain"}
	if saslSSLBoot != "" {
		pem, err := ioutil.ReadFile(kafkaCA)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		if err := send(saslSSLBoot, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, "guest",
			"sasl-ssl"); err != nil {
			t.Fatalf("SASL_SSL PLAIN: %v", err)
		}
		want = append(want, "sasl-ssl")
	}
	msgs := readPartition(t, topic, 0, sarama.OffsetOldest, len(want), 15*time.Second)
	for i, m := range msgs {
		if string(m.Value) != want[i] {
			t.Fatalf("record %d: %q, want %q", i, m.Value, want[i])
		}
	}
}
