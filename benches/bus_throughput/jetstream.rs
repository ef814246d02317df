//! The JetStream baseline: raw async-nats JetStream on its own stream, one
//! durable pull consumer per subscriber (explicit acks, at most 1000
//! pending, as the bus's), each publish awaiting the server's ack and
//! carrying a message id, as the bus's does.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config as StreamConfig, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::measure::{self, Shape, Tally};
use crate::wire;

/// A stream taking `<prefix>>`, like the bus's.
pub(crate) async fn stream(client: &async_nats::Client, prefix: &str) -> Result<Context, String> {
    let js = jetstream::new(client.clone());
    js.get_or_create_stream(StreamConfig {
        name: stream_name(prefix),
        subjects: vec![format!("{prefix}>")],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        max_age: Duration::from_secs(3600),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("raw JetStream stream: {e}"))?;
    Ok(js)
}

pub(crate) fn stream_name(prefix: &str) -> String {
    format!("RAW_{}", prefix.trim_end_matches('.').to_ascii_uppercase())
}

/// The consumers of one shape; dropping their tasks stops reading.
pub(crate) struct Consumers {
    pub(crate) tally: Arc<Tally>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Consumers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub(crate) async fn subscribe(
    js: &Context,
    prefix: &str,
    subject: &str,
    shape: Shape,
) -> Result<Consumers, String> {
    let tally = Tally::new(shape.subscribers);
    let mut tasks = Vec::new();
    for index in 0..shape.subscribers {
        let config = pull::Config {
            durable_name: Some(format!(
                "raw-p{}s{}n{index}",
                shape.publishers, shape.subscribers
            )),
            deliver_policy: DeliverPolicy::New,
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            filter_subject: subject.to_owned(),
            max_ack_pending: 1000,
            ..Default::default()
        };
        let consumer = js
            .create_consumer_on_stream(config, stream_name(prefix))
            .await
            .map_err(|e| format!("raw JetStream consumer: {e}"))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| format!("raw JetStream read: {e}"))?;
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = messages.next().await {
                match wire::decode(&msg.payload) {
                    Ok(seq) => tally.record(index, seq),
                    Err(e) => eprintln!("raw JetStream consumer {index}: {e}"),
                }
                if let Err(e) = msg.ack().await {
                    eprintln!("raw JetStream consumer {index}: ack: {e}");
                }
            }
        }));
    }
    Ok(Consumers { tally, tasks })
}

/// One run's publishers.
pub(crate) async fn publish(
    js: &Context,
    subject: &str,
    tally: &Arc<Tally>,
    shape: Shape,
    events: u64,
) -> Result<(), String> {
    measure::publishers(shape, |p| {
        let (js, tally, subject) = (js.clone(), tally.clone(), subject.to_owned());
        async move {
            for seq in measure::sequence(shape, p, events) {
                tally.admit().await;
                let id = uuid::Uuid::new_v4().to_string();
                let message = PublishMessage::build()
                    .payload(wire::encode(&id, seq)?.into())
                    .message_id(&id);
                js.send_publish(subject.clone(), message)
                    .await
                    .map_err(|e| format!("raw JetStream publish: {e}"))?
                    .await
                    .map_err(|e| format!("raw JetStream publish ack: {e}"))?;
            }
            Ok(())
        }
    })
    .await
}
