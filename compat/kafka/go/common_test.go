// Package compat runs two Go Kafka clients, Sarama 1.22.1 and
// segmentio/kafka-go 0.2.1 (Debian 12's golang-github-shopify-sarama-dev
// and golang-github-segmentio-kafka-go-dev), against tandemd's Kafka
// listener.  compat/kafka/run.sh starts the broker and sets KAFKA_BOOTSTRAP,
// BROKER_CTL (compat/kafka/broker.sh, for restarts),
// KAFKA_SASL_SSL_BOOTSTRAP and KAFKA_CA; it builds this package offline in
// GOPATH mode against /usr/share/gocode (see run.sh's go suite).
//
// Every wait is bounded: helpers take a deadline and fail the test past it.
package compat

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/Shopify/sarama"
)

var (
	boot        = envOr("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
	brokerCtl   = os.Getenv("BROKER_CTL")
	saslSSLBoot = os.Getenv("KAFKA_SASL_SSL_BOOTSTRAP")
	kafkaCA     = os.Getenv("KAFKA_CA")
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// name gives a fresh topic or group name.
func name(prefix string) string {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// saramaConfig is what a Sarama 1.22 user talking to a Kafka 2.1 broker
// writes: Version 2.1.0 (the newest that changes what 1.22.1 sends is
// 0.11.0: Produce v3, Fetch v4, record batches with headers; 2.1 is the
// first that allows zstd in Sarama's own checks).  tandem serves every
// version 1.22.1 sends at this setting (see compat/kafka/README.md).
func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_1_0_0
	c.ClientID = "tandem-compat-sarama"
	c.Net.DialTimeout = 10 * time.Second
	c.Net.ReadTimeout = 15 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Metadata.Retry.Max = 10
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	c.Admin.Timeout = 10 * time.Second
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Timeout = 10 * time.Second
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 200 * time.Millisecond
	return c
}

func admin(t *testing.T) sarama.ClusterAdmin {
	t.Helper()
	a, err := sarama.NewClusterAdmin([]string{boot}, saramaConfig())
	if err != nil {
		t.Fatalf("NewClusterAdmin: %v", err)
	}
	return a
}

func createTopic(t *testing.T, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	a := admin(t)
	defer a.Close()
	err := a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1,
		ConfigEntries: configs}, false)
	if err != nil {
		t.Fatalf("CreateTopic %s: %v", topic, err)
	}
}

// readPartition reads count records of one partition from offset with
// Sarama's partition consumer, failing the test after timeout.
func readPartition(t *testing.T, topic string, partition int32, offset int64, count int,
	timeout time.Duration) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer([]string{boot}, saramaConfig())
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, partition, offset)
	if err != nil {
		t.Fatalf("ConsumePartition %s/%d@%d: %v", topic, partition, offset, err)
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	deadline := time.After(timeout)
	for len(out) < count {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case err := <-pc.Errors():
			t.Fatalf("consuming %s/%d: %v", topic, partition, err)
		case <-deadline:
			t.Fatalf("%s/%d: %d of %d records after %v", topic, partition, len(out), count, timeout)
		}
	}
	return out
}

// restartBroker restarts tandemd through compat/kafka/broker.sh (same port and data).
func restartBroker(t *testing.T) {
	t.Helper()
	if brokerCtl == "" {
		t.Log("no BROKER_CTL: not restarting the broker")
		return
	}
	out, err := exec.Command(brokerCtl, "restart").CombinedOutput()
	if err != nil {
		t.Fatalf("broker restart: %v: %s", err, out)
	}
}

// eventually polls cond every 100 ms until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	end := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
