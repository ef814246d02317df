//! The in-process driver: subscriptions in a map, groups served round-robin.
//! Queued deliveries live in this process's memory, so they end with it.
//!
//! Publishing only reads: each event name has its targets computed when a
//! subscription comes or goes (`Targets`, behind a read-write lock), so a
//! publish takes a shared read lock, allocates nothing, and concurrent
//! publishers do not queue behind each other.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};

use super::{Capabilities, Deliver, Delivery, Driver, DriverError, Settlement, Support};
use crate::wire_envelope::WireEnvelope;

struct Member {
    id: u64,
    group: Option<String>,
    deliver: Deliver,
}

/// The subscriptions, changed under one lock; publishing never takes it.
#[derive(Default)]
struct Table {
    by_event: HashMap<String, Vec<Member>>,
    /// The event each subscription id receives, so unsubscribing finds it.
    event_of: HashMap<u64, String>,
    /// A group's round-robin position, kept while members come and go.
    cursors: HashMap<(String, String), Arc<AtomicUsize>>,
}

/// Who one publish of an event reaches: every broadcast member, and the
/// next member of each group in turn.
struct Targets {
    broadcast: Vec<Deliver>,
    groups: Vec<Group>,
}

struct Group {
    members: Vec<Deliver>,
    cursor: Arc<AtomicUsize>,
}

#[derive(Default)]
pub(crate) struct MemoryDriver {
    table: Mutex<Table>,
    routes: RwLock<HashMap<String, Arc<Targets>>>,
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
    fn publish(&self, envelope: Arc<WireEnvelope>) -> BoxFuture<'_, Result<(), DriverError>> {
        let targets = self.routes.read().get(&*envelope.event).cloned();
        let mut full = Vec::new();
        if let Some(targets) = targets {
            let next = targets.groups.iter().map(|g| {
                let turn = g.cursor.fetch_add(1, Ordering::Relaxed);
                &g.members[turn % g.members.len()]
            });
            for deliver in targets.broadcast.iter().chain(next) {
                // Enqueuing happens in the call; nothing here waits for completion.
                if let Err(refused) = deliver(envelope.clone(), Settlement::Ignored) {
                    full.push(refused.reason);
                }
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
        let mut table = self.table.lock();
        table
            .by_event
            .entry(event.to_owned())
            .or_default()
            .push(Member {
                id,
                group: group.map(str::to_owned),
                deliver,
            });
        table.event_of.insert(id, event.to_owned());
        self.route(&mut table, event);
        async { Ok(()) }.boxed()
    }

    fn unsubscribe(&self, id: u64) -> BoxFuture<'_, ()> {
        let mut table = self.table.lock();
        if let Some(event) = table.event_of.remove(&id) {
            if let Some(members) = table.by_event.get_mut(&event) {
                members.retain(|m| m.id != id);
                if members.is_empty() {
                    table.by_event.remove(&event);
                }
            }
            self.route(&mut table, &event);
        }
        async {}.boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        let mut table = self.table.lock();
        *table = Table::default();
        self.routes.write().clear();
        async {}.boxed()
    }
}

impl MemoryDriver {
    /// Recomputes the targets of `event` from the table (the caller holds
    /// the table's lock, so two changes cannot publish stale targets).
    fn route(&self, table: &mut Table, event: &str) {
        let Table {
            by_event, cursors, ..
        } = table;
        let Some(members) = by_event.get(event) else {
            self.routes.write().remove(event);
            return;
        };
        let mut targets = Targets {
            broadcast: Vec::new(),
            groups: Vec::new(),
        };
        let mut names: Vec<&str> = Vec::new();
        for m in members {
            match &m.group {
                None => targets.broadcast.push(m.deliver.clone()),
                Some(g) if !names.contains(&g.as_str()) => names.push(g),
                Some(_) => {}
            }
        }
        for name in names {
            let cursor = cursors
                .entry((event.to_owned(), name.to_owned()))
                .or_default()
                .clone();
            let members = members
                .iter()
                .filter(|m| m.group.as_deref() == Some(name))
                .map(|m| m.deliver.clone())
                .collect();
            targets.groups.push(Group { members, cursor });
        }
        self.routes
            .write()
            .insert(event.to_owned(), Arc::new(targets));
    }
}
