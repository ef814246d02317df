//! Request/reply round trips, one at a time: `bus.request` to a subscriber
//! that answers, against a hand-written round trip (request over a tokio
//! channel with a oneshot for the answer, both legs JSON like the bus's).

use std::sync::Arc;
use std::time::{Duration, Instant};

use microcore::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// The question.
#[event("bench.asked")]
pub(crate) struct Asked {
    /// Echoed back plus one.
    pub(crate) n: u64,
}

/// The answer.
#[derive(Serialize, Deserialize)]
struct Answer {
    n: u64,
}

struct Responder;

impl Responder {
    async fn on_asked(self: Arc<Self>, event: Envelope<Asked>) -> HandlerResult<Answer> {
        Ok(Answer {
            n: event.payload.n + 1,
        })
    }
}

/// p50 and p99 of one side, nanoseconds.
pub(crate) struct Latency {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

fn percentiles(mut ns: Vec<u64>) -> Latency {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() as f64 - 1.0) * q).round() as usize] as f64;
    Latency {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// `requests` sequential round trips through `bus`, each checked.
pub(crate) async fn bus_side(bus: &EventBus, requests: u64) -> Result<Latency, String> {
    let sub = bus
        .subscribe(&Arc::new(Responder), Responder::on_asked)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    let mut ns = Vec::with_capacity(requests as usize);
    for n in 0..requests {
        let started = Instant::now();
        let answer: Answer = bus
            .request(Asked { n }, Duration::from_secs(5))
            .await
            .map_err(|e| format!("request {n}: {e}"))?;
        ns.push(started.elapsed().as_nanos() as u64);
        if answer.n != n + 1 {
            return Err(format!("request {n} was answered {}", answer.n));
        }
    }
    let _ = bus.unsubscribe(&sub).await;
    Ok(percentiles(ns))
}

type Job = (Vec<u8>, oneshot::Sender<Vec<u8>>);

/// `requests` sequential round trips through a channel and a oneshot.
pub(crate) async fn baseline(requests: u64) -> Result<Latency, String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let responder = tokio::spawn(async move {
        while let Some((asked, reply)) = rx.recv().await {
            let Ok(asked) = serde_json::from_slice::<Asked>(&asked) else {
                continue;
            };
            if let Ok(bytes) = serde_json::to_vec(&Answer { n: asked.n + 1 }) {
                let _ = reply.send(bytes);
            }
        }
    });
    let mut ns = Vec::with_capacity(requests as usize);
    for n in 0..requests {
        let started = Instant::now();
        let (reply, answer) = oneshot::channel();
        let asked = serde_json::to_vec(&Asked { n }).map_err(|e| e.to_string())?;
        tx.send((asked, reply))
            .map_err(|_| "the responder stopped".to_owned())?;
        let answer = answer
            .await
            .map_err(|_| format!("request {n} was not answered"))?;
        let answer: Answer = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
        ns.push(started.elapsed().as_nanos() as u64);
        if answer.n != n + 1 {
            return Err(format!("request {n} was answered {}", answer.n));
        }
    }
    drop(tx);
    let _ = responder.await;
    Ok(percentiles(ns))
}
