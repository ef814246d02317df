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

use crate::measure::{Shape, Tally};
use crate::raw_nats::{self, Consumers};

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

pub(crate) async fn subscribe(
    js: &Context,
    prefix: &str,
    subject: &str,
    shape: Shape,
) -> Result<Consumers, String> {
    let mut consumers = Consumers::new(shape);
    for index in 0..shape.subscribers {
        let config = pull::Config {
            durable_name: Some(raw_nats::consumer_name(shape, index)),
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
        let tally = consumers.tally.clone();
        consumers.spawn(async move {
            while let Some(Ok(msg)) = messages.next().await {
                raw_nats::count(&tally, index, &msg.payload, "JetStream");
                if let Err(e) = msg.ack().await {
                    eprintln!("raw JetStream consumer {index}: ack: {e}");
                }
            }
        });
    }
    Ok(consumers)
}

/// One run's publishers: each publish carries a message id and awaits the
/// server's ack.
pub(crate) async fn publish(
    js: &Context,
    subject: &str,
    tally: &Arc<Tally>,
    shape: Shape,
    events: u64,
) -> Result<(), String> {
    // Shared, so an event costs what it did inline: one copy of the subject.
    let target = Arc::new((js.clone(), subject.to_owned()));
    raw_nats::publish(tally, shape, events, move |id, body| {
        let target = target.clone();
        async move {
            let (js, subject) = &*target;
            let message = PublishMessage::build().payload(body.into()).message_id(&id);
            js.send_publish(subject.clone(), message)
                .await
                .map_err(|e| format!("raw JetStream publish: {e}"))?
                .await
                .map_err(|e| format!("raw JetStream publish ack: {e}"))?;
            Ok(())
        }
    })
    .await
}
