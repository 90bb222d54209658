//! The storage contract: one set of behaviour tests, run against every
//! implementation — embedded (SQLite + folder), PostgreSQL and Azure Storage
//! (Azurite with its account key, and Azurite in OAuth mode reached with a
//! managed identity's tokens only). The service-backed ones read the service location from the
//! environment that `scripts/services.sh` exports; without it they fail when
//! `CI` is set and otherwise say they were skipped.

pub mod behaviour;
mod fault;
pub mod subjects;

/// Writes one `#[tokio::test]` per behaviour and backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let subject = super::subjects::embedded().await;
                    super::behaviour::$name(&subject).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(subject) = super::subjects::postgres().await else { return };
                    super::behaviour::$name(&subject).await;
                }
            )*
        }
        mod azurite {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(subject) = super::subjects::azurite().await else { return };
                    super::behaviour::$name(&subject).await;
                }
            )*
        }
        /// Azurite in OAuth mode: bearer tokens of a managed identity only.
        mod azurite_token {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(subject) = super::subjects::azurite_token().await else { return };
                    super::behaviour::$name(&subject).await;
                }
            )*
        }
    };
}

contract!(
    an_append_counts_each_record_id_once_also_within_one_call,
    a_replayed_batch_counts_nothing_twice_and_totals_stay_exact,
    a_record_id_arriving_again_with_other_content_is_still_one_record,
    totals_respect_the_half_open_time_range,
    partitions_split_the_ledger_by_day_and_party_and_scans_cover_it,
    dead_letters_are_kept_per_tenant_and_replaced_by_identity,
    two_different_bodies_with_one_id_are_two_letters_and_any_id_can_be_kept,
    known_ids_are_those_an_append_would_find,
    a_lease_is_exclusive_until_released_or_lost,
    reports_are_written_with_optimistic_concurrency,
);
