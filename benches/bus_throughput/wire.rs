//! The bytes the raw NATS baselines publish: the same JSON envelope the bus
//! puts on the wire (same fields, same order, same sizes), serialised per
//! event; a consumer reads back only the payload, as a hand-written one would.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Ticked;

/// The shape of `microcore::event_bus::RawEnvelope`, borrowed.
#[derive(Serialize)]
struct Out<'a> {
    id: &'a str,
    event: &'a str,
    payload: &'a Ticked,
    emitter: &'a str,
    timestamp: f64,
    parent_id: Option<&'a str>,
    correlation_id: Option<&'a str>,
    reply_to: Option<&'a str>,
    key: Option<&'a str>,
    delay: Option<f64>,
    ttl: Option<f64>,
    headers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct In {
    payload: Ticked,
}

/// The envelope of event `seq` with message id `id` (a uuid, like the bus's).
pub(crate) fn encode(id: &str, seq: u64) -> Result<Vec<u8>, String> {
    let payload = Ticked::new(seq);
    serde_json::to_vec(&Out {
        id,
        event: <Ticked as microcore::Event>::NAME,
        payload: &payload,
        emitter: "system",
        timestamp: 1_780_000_000.123_456,
        parent_id: None,
        correlation_id: None,
        reply_to: None,
        key: None,
        delay: None,
        ttl: None,
        headers: BTreeMap::new(),
    })
    .map_err(|e| format!("encode: {e}"))
}

/// The sequence number in an envelope's payload.
pub(crate) fn decode(bytes: &[u8]) -> Result<u64, String> {
    serde_json::from_slice::<In>(bytes)
        .map(|e| e.payload.seq)
        .map_err(|e| format!("decode: {e}"))
}
