//! Administration over HTTP: the directory's collections (applications,
//! business units, deployments, budgets; [`crate::directory`]) listed,
//! replaced and edited entry by entry with ETags ([`routes`]), in their wire
//! form: an entry is its value with its key under the collection's key
//! field ([`wire`]).

pub mod routes;
pub mod wire;
