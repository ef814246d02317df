//! Subscribing: a plugin method becomes a named subscriber of one event.

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::oneshot;

use microcore_kernel::{current_identity, spawn_blocking_in_context};

use crate::EventBus;
use crate::driver::Deliver;
use crate::envelope::{Envelope, short_type_name};
use crate::error::BusError;
use crate::event::Event;
use crate::options::SubOptions;
use crate::reply::ReplyError;
use crate::wire_envelope::{Payload, WireEnvelope, payload_of};

/// Why one attempt failed.
pub(crate) enum Failure {
    /// The payload is not the subscriber's type: retrying cannot help.
    Decode(String),
    /// The handler returned an error or panicked.
    Failed(String),
    /// The handler refused with a [`ReplyError`]: the answer to a request,
    /// an ordinary failure for any other event.
    Refused(ReplyError),
}

impl Failure {
    /// The text the trace, the log and a dead letter show.
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Decode(why) | Self::Failed(why) => why.clone(),
            Self::Refused(refusal) => refusal.to_string(),
        }
    }
}

/// A handler's answer: the reply's payload, or `None` when it answers
/// nothing (`()` or `null`).
pub(crate) type Reply = Option<Payload>;

pub(crate) type Handler = Arc<
    dyn Fn(&WireEnvelope, u32, &str) -> BoxFuture<'static, Result<Reply, Failure>> + Send + Sync,
>;

/// A delivery waiting on its lane, with the channel its driver waits on
/// when it asked to ([`Settlement::Awaited`](crate::driver::Settlement)).
pub(crate) type Job = (
    Arc<WireEnvelope>,
    Option<oneshot::Sender<crate::driver::Settled>>,
);

/// One subscription as the bus keeps it.
pub(crate) struct SubEntry {
    pub(crate) id: u64,
    pub(crate) event: String,
    /// Shared with every delivery's context and trace record.
    pub(crate) subscriber: Arc<str>,
    pub(crate) group: Option<String>,
    pub(crate) options: SubOptions,
    pub(crate) payload_type: &'static str,
    pub(crate) schema: serde_json::Value,
    pub(crate) handler: Handler,
    pub(crate) active: AtomicBool,
    pub(crate) consecutive_failures: AtomicU32,
    /// Deliveries running or waiting in `lanes`, bounded by `EVENT_BUS_MAX_QUEUED`.
    pub(crate) queued: AtomicUsize,
    /// Per ordering unit, the deliveries waiting behind the running one.
    pub(crate) lanes: Mutex<HashMap<String, VecDeque<Job>>>,
}

/// A live subscription; pass it to [`EventBus::unsubscribe`] to stop it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    id: u64,
    event: String,
    subscriber: String,
    group: Option<String>,
}

#[microcore_kernel::contract(of = EventBus)]
impl Subscription {
    /// Returns the name of the event this subscription receives.
    #[not_in_manifest]
    pub fn event(&self) -> &str {
        &self.event
    }
    /// Returns the subscriber's name, `"<plugin>.<method>"`.
    #[not_in_manifest]
    pub fn subscriber(&self) -> &str {
        &self.subscriber
    }
    /// Returns the subscription's group, or `None` when it is a broadcast.
    #[not_in_manifest]
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }
}

/// What one subscription is, for `/system/*` and the AI_CONTEXT generator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubscriptionInfo {
    /// The event.
    pub event: String,
    /// `"<plugin>.<method>"`.
    pub subscriber: String,
    /// The group, or `None` for broadcast.
    pub group: Option<String>,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Base backoff in milliseconds.
    pub backoff_ms: u64,
    /// The handler's payload type name.
    pub payload_type: &'static str,
    /// The handler's payload JSON Schema.
    pub schema: serde_json::Value,
}

#[microcore_kernel::contract]
impl EventBus {
    /// Subscribes method `handler` of `plugin` to the event its `Envelope<E>` argument names.
    ///
    /// `handler` is e.g. `Self::on_user_created`. Its return value answers a
    /// [`request`](EventBus::request) (`()` answers nothing), and its `Err`
    /// answers a request as [`BusError::Replied`]; see [`ReplyError`].
    pub async fn subscribe<P, E, R, F, Fut>(
        &self,
        plugin: &Arc<P>,
        handler: F,
    ) -> Result<Subscription, BusError>
    where
        P: Send + Sync + 'static,
        E: Event,
        R: Serialize + Send + 'static,
        F: Fn(Arc<P>, Envelope<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<R>> + Send + 'static,
    {
        self.subscribe_with(plugin, handler, SubOptions::default())
            .await
    }

    /// Subscribes `handler` like `subscribe`, with a group, broadcast, retries or backoff.
    ///
    /// Build the options with `SubOptions::default().retries(3).backoff(d)`.
    pub async fn subscribe_with<P, E, R, F, Fut>(
        &self,
        plugin: &Arc<P>,
        handler: F,
        options: SubOptions,
    ) -> Result<Subscription, BusError>
    where
        P: Send + Sync + 'static,
        E: Event,
        R: Serialize + Send + 'static,
        F: Fn(Arc<P>, Envelope<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<R>> + Send + 'static,
    {
        let plugin = plugin.clone();
        let erased: Handler = Arc::new(move |raw, attempt, subscriber| {
            let envelope = match Envelope::<E>::decode(raw, attempt, subscriber) {
                Ok(envelope) => envelope,
                Err(why) => return futures::future::ready(Err(Failure::Decode(why))).boxed(),
            };
            let running = handler(plugin.clone(), envelope);
            async move { reply_value(running.await) }.boxed()
        });
        self.probed_register::<E>("subscribe", HandlerName::of::<F>(), options, erased)
            .await
    }

    /// Subscribes a synchronous `handler`, run on the blocking pool with the delivery's context.
    ///
    /// A blocking handler never stalls the async workers.
    #[not_in_manifest]
    pub async fn subscribe_blocking<P, E, R, F>(
        &self,
        plugin: &Arc<P>,
        handler: F,
    ) -> Result<Subscription, BusError>
    where
        P: Send + Sync + 'static,
        E: Event,
        R: Serialize + Send + 'static,
        F: Fn(Arc<P>, Envelope<E>) -> anyhow::Result<R> + Send + Sync + 'static,
    {
        self.subscribe_blocking_with(plugin, handler, SubOptions::default())
            .await
    }

    /// Subscribes a synchronous `handler` like `subscribe_blocking`, with `SubOptions`.
    #[not_in_manifest]
    pub async fn subscribe_blocking_with<P, E, R, F>(
        &self,
        plugin: &Arc<P>,
        handler: F,
        options: SubOptions,
    ) -> Result<Subscription, BusError>
    where
        P: Send + Sync + 'static,
        E: Event,
        R: Serialize + Send + 'static,
        F: Fn(Arc<P>, Envelope<E>) -> anyhow::Result<R> + Send + Sync + 'static,
    {
        let plugin = plugin.clone();
        let method = HandlerName::of::<F>();
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |raw, attempt, subscriber| {
            let envelope = match Envelope::<E>::decode(raw, attempt, subscriber) {
                Ok(envelope) => envelope,
                Err(why) => return futures::future::ready(Err(Failure::Decode(why))).boxed(),
            };
            let (handler, plugin) = (handler.clone(), plugin.clone());
            async move {
                match spawn_blocking_in_context(move || handler(plugin, envelope)).await {
                    Ok(result) => reply_value(result),
                    Err(e) => Err(Failure::Failed(format!("handler panicked: {e}"))),
                }
            }
            .boxed()
        });
        self.probed_register::<E>("subscribe_blocking", method, options, erased)
            .await
    }

    /// Stops `subscription`, so its handler receives nothing more.
    ///
    /// Deliveries already queued for it are not run here (a durable driver
    /// hands them to another member of the group).
    pub async fn unsubscribe(&self, subscription: &Subscription) -> Result<(), BusError> {
        self.inner
            .probe
            .observe("unsubscribe", async {
                let entry = self.inner.subs.lock().remove(&subscription.id);
                if let Some(entry) = entry {
                    entry.active.store(false, Ordering::Release);
                    self.inner.driver.unsubscribe(entry.id).await;
                }
                Ok(())
            })
            .await
    }
}

/// Framework-facing: used by the kernel, the test kit, `/system/*` and the
/// manifest generator. Not part of the plugin contract, so AI_CONTEXT.md
/// leaves it out.
impl EventBus {
    /// Subscriber names by event, sorted.
    pub fn subscribers(&self) -> BTreeMap<String, Vec<String>> {
        self.read("subscribers", || {
            let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for entry in self.inner.subs.lock().values() {
                map.entry(entry.event.clone())
                    .or_default()
                    .push(entry.subscriber.to_string());
            }
            for names in map.values_mut() {
                names.sort();
            }
            map
        })
    }

    /// Every live subscription with its payload schema, sorted by event then subscriber.
    pub fn subscriptions(&self) -> Vec<SubscriptionInfo> {
        self.read("subscriptions", || {
            let mut out: Vec<SubscriptionInfo> = self
                .inner
                .subs
                .lock()
                .values()
                .map(|e| SubscriptionInfo {
                    event: e.event.clone(),
                    subscriber: e.subscriber.to_string(),
                    group: e.group.clone(),
                    retries: e.options.retries,
                    backoff_ms: u64::try_from(e.options.backoff.as_millis()).unwrap_or(u64::MAX),
                    payload_type: e.payload_type,
                    schema: e.schema.clone(),
                })
                .collect();
            out.sort_by(|a, b| (&a.event, &a.subscriber).cmp(&(&b.event, &b.subscriber)));
            out
        })
    }

    async fn probed_register<E: Event>(
        &self,
        method: &'static str,
        handler_name: HandlerName,
        options: SubOptions,
        handler: Handler,
    ) -> Result<Subscription, BusError> {
        self.inner
            .probe
            .observe(method, self.register::<E>(handler_name, options, handler))
            .await
    }

    async fn register<E: Event>(
        &self,
        handler_name: HandlerName,
        options: SubOptions,
        handler: Handler,
    ) -> Result<Subscription, BusError> {
        let invalid = |reason: &str| BusError::InvalidOptions {
            event: E::NAME.to_owned(),
            reason: reason.to_owned(),
        };
        if options.broadcast && options.group.is_some() {
            return Err(invalid(
                "`broadcast` gives every instance a copy and `group` shares events in a pool; set one of them",
            ));
        }
        if options
            .group
            .as_deref()
            .is_some_and(|g| g.trim().is_empty() || g.contains(char::is_whitespace))
        {
            return Err(invalid(
                "a group name must be non-empty and contain no whitespace",
            ));
        }
        let identity = self.plugin.clone().unwrap_or_else(current_identity);
        let subscriber = self.subscriber_name(&identity, handler_name);
        let group = match (options.broadcast, &options.group) {
            (true, _) => None,
            (false, Some(g)) => Some(g.clone()),
            (false, None) => Some(subscriber.clone()),
        };
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(SubEntry {
            id,
            event: E::NAME.to_owned(),
            subscriber: Arc::from(subscriber.as_str()),
            group: group.clone(),
            options,
            payload_type: short_type_name::<E>(),
            schema: serde_json::to_value(schemars::schema_for!(E)).unwrap_or_default(),
            handler,
            active: AtomicBool::new(true),
            consecutive_failures: AtomicU32::new(0),
            queued: AtomicUsize::new(0),
            lanes: Mutex::new(HashMap::new()),
        });
        self.inner.subs.lock().insert(id, entry.clone());
        let weak = Arc::downgrade(&self.inner);
        let deliver: Deliver = Arc::new(move |envelope, settlement| {
            crate::delivery::enqueue(&weak, &entry, envelope, settlement)
        });
        if let Err(reason) = self
            .inner
            .driver
            .subscribe(id, E::NAME, group.as_deref(), deliver)
            .await
        {
            self.inner.subs.lock().remove(&id);
            return Err(self.inner.unavailable(reason));
        }
        Ok(Subscription {
            id,
            event: E::NAME.to_owned(),
            subscriber,
            group,
        })
    }
}

/// A handler's name from its type, and the type itself: closures in one
/// function share a name, and only their type tells them apart.
pub(crate) struct HandlerName {
    name: String,
    ty: TypeId,
}

impl HandlerName {
    fn of<F: 'static>() -> Self {
        Self {
            name: method_name::<F>(),
            ty: TypeId::of::<F>(),
        }
    }
}

impl EventBus {
    /// `"<plugin>.<method>"`. Distinct closures of one function get
    /// `closure_in_<fn>`, `closure_in_<fn>_2`, ... in the order they first
    /// subscribe, so each gets its own default group (and every event),
    /// while the same closure subscribed again (a replica) shares its name.
    fn subscriber_name(&self, identity: &str, handler: HandlerName) -> String {
        let base = format!("{identity}.{}", handler.name);
        if !handler.name.starts_with(CLOSURE_PREFIX) {
            return base;
        }
        let mut names = self.inner.closure_names.lock();
        let seen = names.entry(base.clone()).or_default();
        let index = match seen.iter().position(|t| *t == handler.ty) {
            Some(index) => index,
            None => {
                seen.push(handler.ty);
                seen.len() - 1
            }
        };
        match index {
            0 => base,
            n => format!("{base}_{}", n + 1),
        }
    }
}

const CLOSURE_PREFIX: &str = "closure_in_";

fn reply_value<R: Serialize + 'static>(result: anyhow::Result<R>) -> Result<Reply, Failure> {
    match result {
        // Most handlers answer nothing: no serialising, no allocation.
        Ok(_) if TypeId::of::<R>() == TypeId::of::<()>() => Ok(None),
        Ok(reply) => match payload_of(&reply) {
            Ok(payload) if payload.get() == "null" => Ok(None),
            Ok(payload) => Ok(Some(payload)),
            Err(e) => Err(Failure::Failed(format!(
                "the handler's return value cannot be serialized to JSON: {e}"
            ))),
        },
        Err(e) => match e.chain().find_map(|c| c.downcast_ref::<ReplyError>()) {
            Some(refusal) => Err(Failure::Refused(refusal.clone())),
            None => Err(Failure::Failed(format!("{e:#}"))),
        },
    }
}

/// The handler's method name: `…::Welcome::on_user_created` → `on_user_created`;
/// a closure inside `on_boot` → `closure_in_on_boot`.
pub(crate) fn method_name<F>() -> String {
    let full = std::any::type_name::<F>();
    let mut plain = String::with_capacity(full.len());
    let mut depth = 0usize;
    for c in full.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let segments: Vec<&str> = plain.split("::").filter(|s| !s.is_empty()).collect();
    let closures = segments
        .iter()
        .rev()
        .take_while(|s| s.starts_with("{{"))
        .count();
    let named = segments[..segments.len() - closures]
        .last()
        .copied()
        .unwrap_or("handler");
    if closures > 0 {
        format!("{CLOSURE_PREFIX}{named}")
    } else {
        named.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::method_name;

    struct Welcome;
    impl Welcome {
        fn on_user_created(&self) {}
    }

    fn name_of<F>(_: F) -> String {
        method_name::<F>()
    }

    #[test]
    fn a_method_is_named_by_its_last_segment_and_a_closure_by_its_function() {
        Welcome.on_user_created();
        assert_eq!(name_of(Welcome::on_user_created), "on_user_created");
        assert_eq!(
            name_of(|| ()),
            "closure_in_a_method_is_named_by_its_last_segment_and_a_closure_by_its_function"
        );
        assert_eq!(name_of(Vec::<Option<u8>>::new), "new");
    }
}
