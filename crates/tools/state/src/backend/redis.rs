//! The Redis backend: `{prefix}:{namespace}:{key}` holds the value's JSON
//! text. The prefix (`STATE_KEY_PREFIX`) keeps apps sharing one Redis
//! database apart: listing and clearing only ever SCAN under it.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, RedisError, Script};
use serde_json::Value;

use super::{Backend, Res};
use crate::error::StateError;

/// Keys fetched or deleted per round trip.
const BATCH: usize = 500;

/// Increment with a fixed-window ttl, atomically: the ttl is set only when
/// this very call created the key, which a plain INCRBY + PEXPIRE NX cannot
/// tell apart from a key that `set` created without a ttl.
const INCREMENT: &str = r"
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
";

/// State in a Redis server, shared by every replica using it.
pub(crate) struct Redis {
    conn: ConnectionManager,
    url: String,
    prefix: String,
    increment: Script,
}

impl Redis {
    /// Connects to `url` and checks the server answers, within a few seconds;
    /// every key it touches starts with `prefix:`.
    pub(crate) async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        let shown = microcore_kernel::redact_url(url);
        let client = Client::open(url).map_err(|e| {
            format!(
                "REDIS_URL={shown} is not a valid Redis URL ({e}); expected redis://host:port[/db]"
            )
        })?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(5));
        let unreachable = |e: String| {
            format!(
                "STATE_BACKEND=redis, but Redis at {shown} is unreachable ({e}); start Redis there, \
                 point REDIS_URL at a running server, or unset STATE_BACKEND to keep state in memory"
            )
        };
        let connect = async {
            let mut conn = ConnectionManager::new_with_config(client, config).await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await?;
            Ok::<_, RedisError>(conn)
        };
        let conn = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| unreachable("no answer within 5 s".to_owned()))?
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self {
            conn,
            url: shown,
            prefix: prefix.to_owned(),
            increment: Script::new(INCREMENT),
        })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn fail(&self, e: RedisError) -> StateError {
        let backend = format!("redis at {}", self.url);
        let reason = e.to_string();
        if e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_timeout()
        {
            StateError::Unavailable { backend, reason }
        } else {
            StateError::Backend { backend, reason }
        }
    }

    /// The Redis key of `key` in namespace `ns`.
    fn full_key(&self, ns: &str, key: &str) -> String {
        format!("{}{key}", self.ns_prefix(ns))
    }

    /// What every Redis key of namespace `ns` starts with.
    fn ns_prefix(&self, ns: &str) -> String {
        format!("{}:{ns}:", self.prefix)
    }

    /// Every Redis key of `ns` (SCAN, so the server is never blocked), only
    /// under this app's prefix.
    async fn scan(&self, ns: &str) -> Result<Vec<String>, StateError> {
        let pattern = format!("{}*", escape_glob(&self.ns_prefix(ns)));
        let mut conn = self.conn();
        let mut cursor: u64 = 0;
        let mut found = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(BATCH)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.fail(e))?;
            found.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key twice.
        found.sort();
        found.dedup();
        Ok(found)
    }
}

fn parse(ns: &str, key: &str, text: &str) -> Result<Value, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Deserialize {
        namespace: ns.to_owned(),
        key: key.to_owned(),
        expected: "JSON value",
        reason: format!("{e}; was it written by something other than the state tool?"),
    })
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, i64::MAX as u64)
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Backend for Redis {
    fn set<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        value: Value,
        ttl: Option<Duration>,
    ) -> Res<'a, ()> {
        Box::pin(async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(self.full_key(ns, key)).arg(value.to_string());
            if let Some(ttl) = ttl {
                cmd.arg("PX").arg(millis(ttl));
            }
            cmd.query_async::<()>(&mut self.conn())
                .await
                .map_err(|e| self.fail(e))
        })
    }

    fn get<'a>(&'a self, ns: &'a str, key: &'a str) -> Res<'a, Option<Value>> {
        Box::pin(async move {
            let text: Option<String> = self
                .conn()
                .get(self.full_key(ns, key))
                .await
                .map_err(|e| self.fail(e))?;
            text.map(|t| parse(ns, key, &t)).transpose()
        })
    }

    fn has<'a>(&'a self, ns: &'a str, key: &'a str) -> Res<'a, bool> {
        Box::pin(async move {
            self.conn()
                .exists(self.full_key(ns, key))
                .await
                .map_err(|e| self.fail(e))
        })
    }

    fn keys<'a>(&'a self, ns: &'a str) -> Res<'a, Vec<String>> {
        Box::pin(async move {
            let prefix = self.ns_prefix(ns).len();
            Ok(self
                .scan(ns)
                .await?
                .into_iter()
                .map(|k| k[prefix..].to_owned())
                .collect())
        })
    }

    fn get_all<'a>(&'a self, ns: &'a str) -> Res<'a, BTreeMap<String, Value>> {
        Box::pin(async move {
            let full = self.scan(ns).await?;
            let mut all = BTreeMap::new();
            let mut conn = self.conn();
            let prefix = self.ns_prefix(ns).len();
            for chunk in full.chunks(BATCH) {
                let values: Vec<Option<String>> = redis::cmd("MGET")
                    .arg(chunk)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.fail(e))?;
                for (full_key, text) in chunk.iter().zip(values) {
                    // A key that expired between SCAN and MGET is simply gone.
                    if let Some(text) = text {
                        let key = &full_key[prefix..];
                        all.insert(key.to_owned(), parse(ns, key, &text)?);
                    }
                }
            }
            Ok(all)
        })
    }

    fn increment<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        amount: i64,
        ttl: Option<Duration>,
    ) -> Res<'a, i64> {
        Box::pin(async move {
            let result = self
                .increment
                .key(self.full_key(ns, key))
                .arg(amount)
                .arg(ttl.map_or(0, millis))
                .invoke_async::<i64>(&mut self.conn())
                .await;
            result.map_err(|e| {
                let text = e.to_string();
                if text.contains("not an integer") {
                    StateError::NotANumber {
                        namespace: ns.to_owned(),
                        key: key.to_owned(),
                    }
                } else if text.contains("overflow") {
                    StateError::Overflow {
                        namespace: ns.to_owned(),
                        key: key.to_owned(),
                    }
                } else {
                    self.fail(e)
                }
            })
        })
    }

    fn delete<'a>(&'a self, ns: &'a str, key: &'a str) -> Res<'a, ()> {
        Box::pin(async move {
            self.conn()
                .del::<_, ()>(self.full_key(ns, key))
                .await
                .map_err(|e| self.fail(e))
        })
    }

    fn clear<'a>(&'a self, ns: &'a str) -> Res<'a, ()> {
        Box::pin(async move {
            let full = self.scan(ns).await?;
            let mut conn = self.conn();
            for chunk in full.chunks(BATCH) {
                conn.unlink::<_, ()>(chunk)
                    .await
                    .map_err(|e| self.fail(e))?;
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("redis at {}, keys under `{}:`", self.url, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_never_reach_messages() {
        for url in [
            "redis+unix:///nowhere/redis.sock?pass=S3CRET",
            "redis://:S3C@RET@127.0.0.1:1/0",
        ] {
            let Err(err) = Redis::connect(url, "microcore").await else {
                panic!("nothing listens at {url}");
            };
            assert!(!err.contains("S3C") && !err.contains("RET"), "{err}");
            assert!(err.contains("***"), "{err}");
        }
    }

    #[test]
    fn namespace_globs_are_escaped_for_scan() {
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
