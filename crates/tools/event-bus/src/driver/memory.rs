//! The in-process driver: subscriptions in a map, groups served round-robin.
//! Queued deliveries live in this process's memory, so they end with it.

use std::collections::HashMap;

use futures::FutureExt;
use futures::future::BoxFuture;
use parking_lot::Mutex;

use super::{Capabilities, Deliver, Delivery, Driver, DriverError, Support};
use crate::envelope::RawEnvelope;

struct Member {
    id: u64,
    group: Option<String>,
    deliver: Deliver,
}

#[derive(Default)]
struct Table {
    by_event: HashMap<String, Vec<Member>>,
    cursors: HashMap<(String, String), usize>,
}

#[derive(Default)]
pub(crate) struct MemoryDriver {
    table: Mutex<Table>,
}

impl Driver for MemoryDriver {
    fn name(&self) -> &'static str {
        "in_process"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            delivery: Delivery::AtMostOnce,
            delay: Support::InBus,
            retries: Support::InBus,
            dlq: Support::InBus,
        }
    }

    /// Enqueues for every target. A full subscription does not get it and
    /// the publisher is told which (the others have it).
    fn publish(&self, envelope: RawEnvelope) -> BoxFuture<'_, Result<(), DriverError>> {
        let targets = self.targets(&envelope.event);
        let mut full = Vec::new();
        for deliver in targets {
            // Enqueuing happens in the call; the completion future is not needed here.
            match deliver(envelope.clone()) {
                Ok(done) => drop(done),
                Err(refused) => full.push(refused.reason),
            }
        }
        let result = if full.is_empty() {
            Ok(())
        } else {
            Err(DriverError::Full(full.join("; ")))
        };
        async move { result }.boxed()
    }

    fn subscribe<'a>(
        &'a self,
        id: u64,
        event: &'a str,
        group: Option<&'a str>,
        deliver: Deliver,
    ) -> BoxFuture<'a, Result<(), String>> {
        self.table
            .lock()
            .by_event
            .entry(event.to_owned())
            .or_default()
            .push(Member {
                id,
                group: group.map(str::to_owned),
                deliver,
            });
        async { Ok(()) }.boxed()
    }

    fn unsubscribe(&self, id: u64) -> BoxFuture<'_, ()> {
        let mut table = self.table.lock();
        for members in table.by_event.values_mut() {
            members.retain(|m| m.id != id);
        }
        table.by_event.retain(|_, m| !m.is_empty());
        async {}.boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        *self.table.lock() = Table::default();
        async {}.boxed()
    }
}

impl MemoryDriver {
    /// Every broadcast member, plus the next member of each group in turn.
    fn targets(&self, event: &str) -> Vec<Deliver> {
        let mut table = self.table.lock();
        let Table { by_event, cursors } = &mut *table;
        let Some(members) = by_event.get(event) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut groups: Vec<&str> = Vec::new();
        for m in members {
            match &m.group {
                None => out.push(m.deliver.clone()),
                Some(g) if !groups.contains(&g.as_str()) => groups.push(g),
                Some(_) => {}
            }
        }
        for group in groups {
            let in_group: Vec<&Member> = members
                .iter()
                .filter(|m| m.group.as_deref() == Some(group))
                .collect();
            let cursor = cursors
                .entry((event.to_owned(), group.to_owned()))
                .or_default();
            out.push(in_group[*cursor % in_group.len()].deliver.clone());
            *cursor = cursor.wrapping_add(1);
        }
        out
    }
}
