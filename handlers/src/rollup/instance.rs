//! The state of a rollup instance, kept as one JSON document per tenant and
//! month and changed only by conditional writes (ETags), so concurrent chunk
//! activities on any number of instances never lose an update.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Period, Tenant};

/// Runtime status, as Durable Functions names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuntimeStatus {
    /// Planned; no chunk finished yet.
    Pending,
    /// Chunks are being aggregated or the month is being priced.
    Running,
    /// The month is priced and its reports are written.
    Completed,
    /// A chunk or the finish step failed for good; `rerun` retries only what failed.
    Failed,
}

/// The state of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkState {
    /// Not aggregated yet.
    Pending,
    /// Aggregated.
    Done,
    /// Failed for good (its message is in the poison queue).
    Failed,
}

impl ChunkState {
    fn code(self) -> char {
        match self {
            Self::Pending => '.',
            Self::Done => 'D',
            Self::Failed => 'F',
        }
    }

    fn from_code(c: char) -> Self {
        match c {
            'D' => Self::Done,
            'F' => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// Why a chunk or the finish step failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The error, as safe to show (no secrets: store errors only).
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it was given up.
    pub at: DateTime<Utc>,
}

/// One rollup of a tenant's month. The id is stable (`<tenant>/<month>`);
/// every start makes a new run of it, numbered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupInstance {
    /// `<tenant>/<month>`.
    pub id: String,
    /// Tenant.
    pub tenant: Tenant,
    /// Month.
    pub period: Period,
    /// Run number, from 1.
    pub run: u32,
    /// What started it: `timer`, `http`, `cli`.
    pub trigger: String,
    /// Status.
    pub status: RuntimeStatus,
    /// Name of the plan document (the chunks' partitions) in the state store.
    pub plan: String,
    /// One character per chunk: `.` pending, `D` done, `F` failed.
    states: String,
    /// Failed chunks by index.
    #[serde(default)]
    pub chunk_failures: BTreeMap<usize, Failure>,
    /// Whether the finish step has been handed out.
    #[serde(default)]
    pub finish_enqueued: bool,
    /// The finish step's failure, if it failed for good.
    #[serde(default)]
    pub finish_failure: Option<Failure>,
    /// When the run started.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the run completed.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// Names of the report files written (in the outputs store).
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Summary of the result, when completed.
    #[serde(default)]
    pub summary: Option<serde_json::Value>,
}

/// One chunk of the plan: a ledger partition of the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChunk {
    /// UTC day.
    pub day: NaiveDate,
    /// Chargeable party.
    pub party: String,
}

impl RollupInstance {
    /// A new run over `chunks` chunks.
    pub fn new(tenant: &Tenant, period: Period, run: u32, trigger: &str, plan: String, chunks: usize) -> Self {
        let now = Utc::now();
        Self {
            id: instance_id(tenant, period),
            tenant: tenant.clone(),
            period,
            run,
            trigger: trigger.to_owned(),
            status: if chunks == 0 { RuntimeStatus::Running } else { RuntimeStatus::Pending },
            plan,
            states: ".".repeat(chunks),
            chunk_failures: BTreeMap::new(),
            finish_enqueued: false,
            finish_failure: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
            outputs: Vec::new(),
            summary: None,
        }
    }

    /// Number of chunks.
    pub fn total(&self) -> usize {
        self.states.chars().count()
    }

    /// A chunk's state (`None` past the end).
    pub fn chunk(&self, index: usize) -> Option<ChunkState> {
        self.states.chars().nth(index).map(ChunkState::from_code)
    }

    /// Sets a chunk's state.
    pub fn set_chunk(&mut self, index: usize, state: ChunkState) {
        self.states = self.states.chars().enumerate().map(|(i, c)| if i == index { state.code() } else { c }).collect();
        if state != ChunkState::Failed {
            self.chunk_failures.remove(&index);
        }
    }

    /// Sets the state of several chunks (indexes past the end are ignored).
    pub fn set_chunks(&mut self, indexes: &[usize], state: ChunkState) {
        let mut codes: Vec<char> = self.states.chars().collect();
        for &index in indexes {
            if let Some(code) = codes.get_mut(index) {
                *code = state.code();
            }
            if state != ChunkState::Failed {
                self.chunk_failures.remove(&index);
            }
        }
        self.states = codes.into_iter().collect();
    }

    /// Chunks in a state.
    pub fn count(&self, state: ChunkState) -> usize {
        self.states.chars().filter(|&c| c == state.code()).count()
    }

    /// Indexes of chunks in a state.
    pub fn indexes(&self, state: ChunkState) -> Vec<usize> {
        self.states.chars().enumerate().filter(|(_, c)| *c == state.code()).map(|(i, _)| i).collect()
    }

    /// Whether the run is over (completed or failed).
    pub fn is_over(&self) -> bool {
        matches!(self.status, RuntimeStatus::Completed | RuntimeStatus::Failed)
    }

    /// What the status endpoint shows.
    pub fn status_view(&self) -> serde_json::Value {
        let failures: Vec<serde_json::Value> = self
            .chunk_failures
            .iter()
            .map(|(i, f)| serde_json::json!({"chunk": i, "error": f.error, "attempts": f.attempts, "at": f.at}))
            .collect();
        serde_json::json!({
            "id": self.id,
            "tenant": self.tenant,
            "period": self.period,
            "run": self.run,
            "trigger": self.trigger,
            "runtimeStatus": self.status,
            "createdTime": self.created_at,
            "lastUpdatedTime": self.updated_at,
            "completedTime": self.completed_at,
            "elapsedMilliseconds": (self.completed_at.unwrap_or(self.updated_at) - self.created_at).num_milliseconds(),
            "chunks": {
                "total": self.total(),
                "done": self.count(ChunkState::Done),
                "failed": self.count(ChunkState::Failed),
                "pending": self.count(ChunkState::Pending),
            },
            "failures": failures,
            "finishFailure": self.finish_failure,
            "outputs": self.outputs,
            "summary": self.summary,
        })
    }
}

/// The stable id of a tenant's month.
pub fn instance_id(tenant: &Tenant, period: Period) -> String {
    format!("{tenant}/{period}")
}

/// The state store name of an instance document.
pub fn instance_name(tenant: &Tenant, period: Period) -> String {
    format!("rollups/{tenant}/{period}/instance.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_states_round_trip_through_json() {
        let mut i =
            RollupInstance::new(&Tenant::parse("t").unwrap(), "2026-10".parse().unwrap(), 1, "cli", "plan".into(), 4);
        i.set_chunk(1, ChunkState::Done);
        i.set_chunk(3, ChunkState::Failed);
        let back: RollupInstance = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
        assert_eq!(back.indexes(ChunkState::Pending), vec![0, 2]);
        assert_eq!(back.chunk(1), Some(ChunkState::Done));
        assert_eq!(back.chunk(3), Some(ChunkState::Failed));
        assert_eq!(back.chunk(4), None);
    }

    #[test]
    fn setting_several_chunks_at_once_is_setting_each() {
        let mut one_by_one =
            RollupInstance::new(&Tenant::parse("t").unwrap(), "2026-10".parse().unwrap(), 1, "cli", "plan".into(), 5);
        let mut at_once = one_by_one.clone();
        one_by_one.set_chunk(1, ChunkState::Done);
        one_by_one.set_chunk(4, ChunkState::Done);
        at_once.set_chunks(&[1, 4, 9], ChunkState::Done);
        assert_eq!(at_once.indexes(ChunkState::Done), vec![1, 4]);
        assert_eq!(at_once.total(), 5);
        assert_eq!(at_once.indexes(ChunkState::Pending), one_by_one.indexes(ChunkState::Pending));
    }
}
