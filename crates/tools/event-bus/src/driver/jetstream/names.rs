//! The names the JetStream driver gives the server's objects. They are pure
//! functions of settings, so every replica of an app derives the same stream
//! and the same durable consumers without talking to the others.

/// The stream for a subject prefix: `bus.` → `MICROCORE_BUS`. The prefix must
/// end with `.`, since the stream takes every subject under it (`bus.>`).
pub(crate) fn stream_name(prefix: &str) -> Result<String, String> {
    let stem = prefix.strip_suffix('.').unwrap_or_default();
    if stem.is_empty() || stem.contains(|c: char| c.is_whitespace() || matches!(c, '*' | '>')) {
        return Err(format!(
            "EVENT_BUS_NATS_PREFIX={prefix:?} cannot name a JetStream stream: the JetStream \
             driver stores every subject under the prefix, so it must be non-empty, end with \
             `.` and hold no spaces or wildcards (e.g. `bus.` or `shop.bus.`)"
        ));
    }
    Ok(format!("MICROCORE_{}", sanitise(stem).to_ascii_uppercase()))
}

/// The durable consumer a group reads `event` through, shared by every
/// replica in the group. JetStream names allow no `.`, `*`, `>`, spaces or
/// path separators, so anything but `[A-Za-z0-9_-]` becomes `_`; a hash of
/// the exact pair keeps `a.b` and `a_b` apart and bounds the length.
pub(crate) fn group_consumer(group: &str, event: &str) -> String {
    let readable: String = sanitise(&format!("{group}__{event}"))
        .chars()
        .take(80)
        .collect();
    format!("{readable}_{:016x}", fnv1a(&[group, event]))
}

fn sanitise(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a, 64 bits: fixed by its definition, unlike `DefaultHasher`, so
/// replicas built by different compilers agree on it.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        let separator: &[u8] = if i == 0 { &[] } else { &[0] };
        for byte in separator.iter().chain(part.as_bytes()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_named_after_the_prefix_and_a_bad_prefix_is_refused() {
        assert_eq!(stream_name("bus.").unwrap(), "MICROCORE_BUS");
        assert_eq!(stream_name("shop.bus.").unwrap(), "MICROCORE_SHOP_BUS");
        for bad in ["", ".", "bus", "b s.", "bus.*."] {
            let err = stream_name(bad).unwrap_err();
            assert!(err.contains("EVENT_BUS_NATS_PREFIX"), "{err}");
        }
    }

    #[test]
    fn group_consumers_are_valid_deterministic_and_distinct() {
        let name = group_consumer("users.Welcome.on_user_created", "user.created");
        assert_eq!(
            name,
            group_consumer("users.Welcome.on_user_created", "user.created")
        );
        assert!(
            name.starts_with("users_Welcome_on_user_created__user_created_"),
            "{name}"
        );
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{name}"
        );
        assert_ne!(group_consumer("a.b", "e"), group_consumer("a_b", "e"));
        assert_ne!(group_consumer("g", "x.y"), group_consumer("g.x", "y"));
        assert!(group_consumer(&"g".repeat(500), "e").len() <= 100);
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // The published FNV-1a 64 test vector for "a".
        assert_eq!(fnv1a(&["a"]), 0xaf63_dc4c_8601_ec8c);
    }
}
