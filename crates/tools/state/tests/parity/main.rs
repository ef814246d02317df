//! The state contract, written once and run against every backend: each
//! behaviour below runs as `memory::<name>` and `redis::<name>`.
//!
//! The Redis runs need a server at `REDIS_URL` (default 127.0.0.1:6379):
//! without one they fail under `CI=true` and are skipped with a printed
//! reason otherwise. Each run works under its own key prefix and removes
//! its keys afterwards, even when a test fails.

mod fixture;
mod suite;

use fixture::Fixture;

macro_rules! parity_suite {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fx = super::Fixture::memory();
                    super::suite::$test(&fx).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(fx) = super::Fixture::redis().await else { return };
                    super::suite::$test(&fx).await;
                }
            )*
        }
    };
}

parity_suite!(
    set_then_get_round_trips_typed_values,
    reading_as_the_wrong_type_names_the_key,
    set_with_ttl_expires,
    set_replaces_the_value_and_its_ttl,
    increment_starts_at_zero_and_returns_the_new_value,
    increment_ttl_applies_only_when_the_key_is_created,
    increment_restarts_from_zero_after_expiry,
    increment_never_adds_a_ttl_to_an_existing_key,
    increment_of_a_non_integer_fails_naming_the_key,
    increment_overflow_is_an_error,
    fifty_concurrent_increments_are_exact,
    namespaces_are_isolated,
    get_all_is_a_deep_copy,
    keys_are_sorted_and_live_only,
    delete_and_clear,
    zero_ttl_and_bad_namespaces_are_refused,
    a_ttl_too_long_is_refused_before_anything_is_written,
    floats_round_trip_exactly,
    listing_and_clearing_never_touch_keys_outside_the_app_prefix,
);
