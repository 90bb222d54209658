//! The monthly rollup: a durable-style fan-out built from a state document,
//! queue messages and idempotent writes (Durable Functions does not support
//! custom handlers).
//!
//! 1. **Start** ([`Rollups::start`]): plan one chunk per ledger partition of
//!    the month (one party's day), store the plan, create the run with a
//!    conditional write (so two starts of one month run once) and hand out one
//!    [`ChunkMessage`] per chunk. Messages carry references, not data.
//! 2. **Chunk** ([`Rollups::run_chunk`]): aggregate one partition from the
//!    ledger and *replace* its daily aggregates; mark the chunk done with an
//!    ETag-conditional write; whoever marks the last chunk hands out the
//!    [`FinishMessage`]. A chunk that fails is retried alone; one that fails
//!    for good is marked failed with its error.
//! 3. **Finish** ([`Rollups::finish`]): under the tenant's lease, price the
//!    month, reconcile it with its invoice export when one is configured
//!    ([`Rollups::with_invoices`]), replace its results, write its reports,
//!    mark it completed.
//!
//! A completed month can also be reconciled with an invoice export given
//! later ([`Rollups::reconcile`], what `chargeback reconcile` and
//! `POST /api/reconciliations/{period}` call), and trued up to it.
//!
//! On Azure the messages go through Storage Queues (the functions' output
//! bindings) to queue-triggered functions on as many instances as scaling
//! allows; on the embedded backend [`local::run`] works them in-process with
//! a bounded pool. Both call the same three steps.

mod finish;
mod instance;
pub mod local;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

pub use instance::{ChunkState, Failure, PlannedChunk, RollupInstance, RuntimeStatus, instance_id, instance_name};

use crate::billing::{DeploymentCatalogue, Pricing, PricingError, Statement};
use crate::domain::{Awaiting, Period, Tenant};
use crate::reconcile::{self, Invoice, InvoiceError, InvoiceExports, Reconciliation, TrueUpError};
use crate::storage::{
    GatewayLogStore, LeaseStore, Ledger, LedgerPartition, OpenCall, ReportStore, ResultLine, RollupStore, StorageError,
    Versioned, WriteCondition,
};

/// Attempts of one chunk before it is given up: the queue trigger's
/// `maxDequeueCount` (5 by default, as `host.json` keeps it), and the
/// embedded pool's retry limit.
pub const MAX_ATTEMPTS: u32 = 5;

/// Why a rollup step failed.
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    /// A store failed; the step can be retried.
    #[error("a store failed")]
    Storage(#[from] StorageError),
    /// The message or request does not make sense (not retried).
    #[error("{0}")]
    Invalid(String),
    /// The month was never started.
    #[error("no rollup of {period} has been started for tenant {tenant}")]
    NotStarted {
        /// The tenant.
        tenant: Tenant,
        /// The month.
        period: Period,
    },
    /// The month's current run has not completed.
    #[error("{period} has no completed rollup (run {run} is {status:?})")]
    NotCompleted {
        /// The month.
        period: Period,
        /// The current run.
        run: u32,
        /// Its status.
        status: RuntimeStatus,
    },
    /// A run of the month is in progress.
    #[error("a rollup of {id} is already running (run {run}, {done} of {total} chunks done)")]
    AlreadyRunning {
        /// The rollup.
        id: String,
        /// The run in progress.
        run: u32,
        /// Its chunks done.
        done: usize,
        /// Its chunks.
        total: usize,
    },
    /// Pricing failed (configuration, e.g. a bad price or seed file).
    #[error("pricing the month failed")]
    Pricing(#[from] PricingError),
    /// Another step holds the tenant's lease; retry later.
    #[error("the tenant's rollup lease is held by another worker; retry later")]
    Busy,
    /// The month's invoice export cannot be read, or is not of the month or its currency.
    #[error("the invoice export cannot be reconciled")]
    Invoice(#[from] InvoiceError),
    /// The month cannot be trued up to its invoice.
    #[error("the month cannot be trued up to the invoice")]
    TrueUp(#[from] TrueUpError),
}

/// The queue message of one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMessage {
    /// Tenant.
    pub tenant: Tenant,
    /// Month.
    pub period: Period,
    /// Run the chunk belongs to (messages of older runs are ignored).
    pub run: u32,
    /// Index in the plan.
    pub chunk: usize,
    /// The partition's day.
    pub day: NaiveDate,
    /// The partition's party.
    pub party: String,
}

/// The queue message of the finish step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishMessage {
    /// Tenant.
    pub tenant: Tenant,
    /// Month.
    pub period: Period,
    /// Run to finish.
    pub run: u32,
}

/// What [`Rollups::run_chunks`] did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// The finish step, when these chunks completed the plan.
    pub finish: Option<FinishMessage>,
    /// Chunks that failed their first attempt (nothing of them was written).
    pub failed: Vec<(ChunkMessage, RollupError)>,
}

/// What a start did.
#[derive(Debug, Clone)]
pub enum Started {
    /// A new run; send these messages.
    New {
        /// The run's state.
        instance: RollupInstance,
        /// One per chunk.
        chunks: Vec<ChunkMessage>,
        /// Set when the month has no chunks: finish at once.
        finish: Option<FinishMessage>,
    },
    /// A run of this month is in progress; nothing was started.
    AlreadyRunning(RollupInstance),
}

/// Messages to send after a step.
#[derive(Debug, Clone, Default)]
pub struct Followups {
    /// Chunks to (re)run.
    pub chunks: Vec<ChunkMessage>,
    /// The finish step, when it is due.
    pub finish: Option<FinishMessage>,
}

/// The stores the rollup works with.
#[derive(Debug, Clone)]
pub struct RollupStores {
    /// The records aggregated.
    pub ledger: Arc<dyn Ledger>,
    /// The daily aggregates and monthly results.
    pub rollup: Arc<dyn RollupStore>,
    /// Run state and plans (optimistic concurrency).
    pub state: Arc<dyn ReportStore>,
    /// Report files (`reports/<tenant>/<month>/…`).
    pub outputs: Arc<dyn ReportStore>,
    /// The finish step's lease.
    pub leases: Arc<dyn LeaseStore>,
    /// The API Management calls waiting for their caller, shown apart in
    /// the statement (none beside a ledger that keeps no such halves).
    pub gateway_logs: Option<Arc<dyn GatewayLogStore>>,
}

/// The rollup steps.
#[derive(Debug, Clone)]
pub struct Rollups {
    stores: RollupStores,
    pricing: Pricing,
    invoices: Option<InvoiceExports>,
}

/// A completed month against an invoice export.
#[derive(Debug, Clone)]
pub struct Reconciled {
    /// The month's statement, as its rollup priced it (without corrections).
    pub statement: Statement,
    /// The statement against the export.
    pub reconciliation: Reconciliation,
    /// The trued-up statement, when a true-up was asked for (its report
    /// files and results were written again).
    pub trued_up: Option<Statement>,
}

/// The name of a month's report file in the outputs store.
pub fn report_name(tenant: &Tenant, period: Period, file: &str) -> String {
    format!("reports/{tenant}/{period}/{file}")
}

/// Conditional writes retried on conflict before giving up (each conflict
/// means another worker made progress).
const CAS_ATTEMPTS: u32 = 200;

impl Rollups {
    /// Steps over these stores, pricing months with `pricing`.
    pub fn new(stores: RollupStores, pricing: Pricing) -> Self {
        Self { stores, pricing, invoices: None }
    }

    /// The same steps, the finish step reconciling each month with its
    /// invoice export (and truing it up when they say so).
    pub fn with_invoices(mut self, invoices: Option<InvoiceExports>) -> Self {
        self.invoices = invoices;
        self
    }

    /// The current run of a tenant's month, if any.
    pub async fn status(&self, tenant: &Tenant, period: Period) -> Result<Option<RollupInstance>, RollupError> {
        Ok(self.load(tenant, period).await?.map(|(i, _)| i))
    }

    /// The current run of a tenant's month; an error if it was never started.
    pub async fn current(&self, tenant: &Tenant, period: Period) -> Result<RollupInstance, RollupError> {
        self.status(tenant, period).await?.ok_or_else(|| RollupError::NotStarted { tenant: tenant.clone(), period })
    }

    /// The lines of a tenant's month, once its current run has completed.
    pub async fn completed_results(
        &self,
        tenant: &Tenant,
        period: Period,
    ) -> Result<(RollupInstance, Vec<ResultLine>), RollupError> {
        let instance = self.current(tenant, period).await?;
        if instance.status != RuntimeStatus::Completed {
            return Err(RollupError::NotCompleted { period, run: instance.run, status: instance.status });
        }
        let lines = self.stores.rollup.results(tenant, period).await?;
        Ok((instance, lines))
    }

    /// One report file of a tenant's month (one of
    /// [`crate::billing::REPORT_FILES`]), if written.
    pub async fn report_file(
        &self,
        tenant: &Tenant,
        period: Period,
        file: &str,
    ) -> Result<Option<Vec<u8>>, RollupError> {
        Ok(self.stores.outputs.get(&report_name(tenant, period, file)).await?.map(|doc| doc.body))
    }

    /// A report file by the name a run recorded in its outputs.
    pub async fn output(&self, name: &str) -> Result<Option<Vec<u8>>, RollupError> {
        Ok(self.stores.outputs.get(name).await?.map(|doc| doc.body))
    }

    /// Starts a run of a tenant's month, unless one is in progress.
    pub async fn start(&self, tenant: &Tenant, period: Period, trigger: &str) -> Result<Started, RollupError> {
        for _ in 0..CAS_ATTEMPTS {
            let current = self.load(tenant, period).await?;
            if let Some((instance, _)) = &current
                && !instance.is_over()
            {
                return Ok(Started::AlreadyRunning(instance.clone()));
            }
            let partitions = self.stores.ledger.partitions(tenant, period.first_day(), period.next_first_day()).await?;
            let run = current.as_ref().map_or(1, |(i, _)| i.run + 1);
            let plan_name = format!("rollups/{tenant}/{period}/plan-{run}-{:016x}.json", rand::random::<u64>());
            let plan: Vec<PlannedChunk> =
                partitions.iter().map(|p| PlannedChunk { day: p.day, party: p.party.clone() }).collect();
            let body = serde_json::to_vec(&plan)
                .map_err(|source| StorageError::Document { name: plan_name.clone(), source })?;
            self.stores.state.put(&plan_name, &body, WriteCondition::Always).await?;
            let instance = RollupInstance::new(tenant, period, run, trigger, plan_name, plan.len());
            let condition = match &current {
                None => WriteCondition::IfAbsent,
                Some((_, etag)) => WriteCondition::IfMatch(etag.clone()),
            };
            if self.save(&instance, condition).await?.is_none() {
                continue; // someone else started it meanwhile: look again
            }
            info!(rollup = %instance.id, run, chunks = plan.len(), trigger, "rollup started");
            let chunks = chunk_messages(&instance, &plan, 0..plan.len());
            let finish = plan.is_empty().then(|| finish_message(&instance));
            if finish.is_some() {
                self.update(tenant, period, run, |i| {
                    i.finish_enqueued = true;
                    true
                })
                .await?;
            }
            return Ok(Started::New { instance, chunks, finish });
        }
        Err(RollupError::Storage(StorageError::Contended(format!("the rollup state of {tenant}/{period}"))))
    }

    /// Re-runs what failed: failed chunks (and chunks never handed out), and
    /// the finish step when every chunk is done but the month is not completed.
    pub async fn rerun_failed(
        &self,
        tenant: &Tenant,
        period: Period,
    ) -> Result<(RollupInstance, Followups), RollupError> {
        let Some((current, _)) = self.load(tenant, period).await? else {
            return Err(RollupError::NotStarted { tenant: tenant.clone(), period });
        };
        let plan = self.plan(&current).await?;
        let mut again: Vec<usize> = Vec::new();
        let mut finish = false;
        let updated = self
            .update(tenant, period, current.run, |i| {
                again = i.indexes(ChunkState::Failed);
                if i.status != RuntimeStatus::Completed && i.count(ChunkState::Pending) > 0 && again.is_empty() {
                    // Pending chunks whose messages may have been lost (a crash between planning and sending).
                    again = i.indexes(ChunkState::Pending);
                }
                for &c in &again {
                    i.set_chunk(c, ChunkState::Pending);
                }
                finish = i.status != RuntimeStatus::Completed && i.count(ChunkState::Done) == i.total();
                if finish {
                    i.finish_enqueued = true;
                    i.finish_failure = None;
                }
                if !again.is_empty() || finish {
                    i.status = RuntimeStatus::Running;
                    return true;
                }
                false
            })
            .await?
            .unwrap_or(current);
        let chunks = chunk_messages(&updated, &plan, again.iter().copied());
        Ok((updated.clone(), Followups { chunks, finish: finish.then(|| finish_message(&updated)) }))
    }

    /// Aggregates one chunk. `attempt` counts from 1 (the queue's dequeue
    /// count); on the last attempt a failure marks the chunk failed before it
    /// is returned.
    pub async fn run_chunk(&self, message: &ChunkMessage, attempt: u32) -> Result<Followups, RollupError> {
        let error = match self.run_chunks(std::slice::from_ref(message)).await {
            Ok(mut outcome) => match outcome.failed.pop() {
                None => return Ok(Followups { chunks: Vec::new(), finish: outcome.finish }),
                Some((_, e)) => e,
            },
            Err(e) => e,
        };
        if attempt >= MAX_ATTEMPTS && !matches!(error, RollupError::Invalid(_)) {
            let failure = Failure { error: error_chain(&error), attempts: attempt, at: Utc::now() };
            warn!(rollup = %instance_id(&message.tenant, message.period), chunk = message.chunk, error = %failure.error,
                "chunk failed for good");
            self.update(&message.tenant, message.period, message.run, |i| {
                i.set_chunk(message.chunk, ChunkState::Failed);
                i.chunk_failures.insert(message.chunk, failure.clone());
                i.status = RuntimeStatus::Failed;
                true
            })
            .await?;
        }
        Err(error)
    }

    /// Aggregates several chunks of one run, each as its first attempt, then
    /// writes their aggregates at once and marks them done with one state
    /// update: how the embedded pool works a month (one state update per
    /// chunk cost more than the chunks themselves on large months). Chunks
    /// already done are skipped. A chunk whose aggregation fails is returned
    /// with its error and nothing of it is written: retry it alone with
    /// [`Rollups::run_chunk`] from attempt 2. If the write or the update
    /// fails, the error is returned and every chunk is to be retried so.
    pub async fn run_chunks(&self, messages: &[ChunkMessage]) -> Result<BatchOutcome, RollupError> {
        let Some(first) = messages.first() else { return Ok(BatchOutcome::default()) };
        if messages.iter().any(|m| (&m.tenant, m.period, m.run) != (&first.tenant, first.period, first.run)) {
            return Err(RollupError::Invalid("the chunks of a batch must belong to one run".into()));
        }
        let tenant = first.tenant.clone();
        let Some((instance, _)) = self.load(&tenant, first.period).await? else {
            return Err(RollupError::NotStarted { tenant, period: first.period });
        };
        let mut outcome = BatchOutcome::default();
        if instance.run != first.run {
            return Ok(outcome); // an older run's messages
        }
        let mut todo = Vec::new();
        for message in messages {
            match instance.chunk(message.chunk) {
                Some(ChunkState::Done) => {}
                None => {
                    let error = format!("chunk {} is not in the plan of {}", message.chunk, instance.id);
                    outcome.failed.push((message.clone(), RollupError::Invalid(error)));
                }
                Some(_) => todo.push(message),
            }
        }
        let partitions: Vec<LedgerPartition> = todo
            .iter()
            .map(|m| LedgerPartition { tenant: tenant.clone(), day: m.day, party: m.party.clone() })
            .collect();
        let results = self.stores.ledger.aggregate_each(&partitions).await;
        let mut aggregated = Vec::with_capacity(partitions.len());
        let mut chunks = Vec::with_capacity(partitions.len());
        for ((message, partition), result) in todo.into_iter().zip(partitions).zip(results) {
            match result {
                Ok(rows) => {
                    aggregated.push((partition, rows));
                    chunks.push(message.chunk);
                }
                Err(e) => outcome.failed.push((message.clone(), e.into())),
            }
        }
        if !chunks.is_empty() {
            self.stores.rollup.replace_partitions(&aggregated).await?;
            outcome.finish = self.mark_done(&tenant, first.period, first.run, &chunks).await?;
        }
        Ok(outcome)
    }

    /// Marks chunks of run `run` done; the finish message if that completed
    /// the plan and no one has handed it out yet.
    async fn mark_done(
        &self,
        tenant: &Tenant,
        period: Period,
        run: u32,
        chunks: &[usize],
    ) -> Result<Option<FinishMessage>, StorageError> {
        let mut finish = false;
        let updated = self
            .update(tenant, period, run, |i| {
                finish = false;
                let new: Vec<usize> = chunks
                    .iter()
                    .copied()
                    .filter(|&c| matches!(i.chunk(c), Some(s) if s != ChunkState::Done))
                    .collect();
                if new.is_empty() {
                    return false;
                }
                i.set_chunks(&new, ChunkState::Done);
                if i.status == RuntimeStatus::Pending {
                    i.status = RuntimeStatus::Running;
                }
                finish = i.count(ChunkState::Done) == i.total() && !i.finish_enqueued;
                if finish {
                    i.finish_enqueued = true;
                }
                true
            })
            .await?;
        Ok(updated.filter(|_| finish).map(|i| finish_message(&i)))
    }

    /// Prices the month, writes its results and reports, and completes the
    /// run. On the last attempt a failure marks the run failed.
    pub async fn finish(&self, message: &FinishMessage, attempt: u32) -> Result<Option<RollupInstance>, RollupError> {
        let tenant = message.tenant.clone();
        let Some((instance, _)) = self.load(&tenant, message.period).await? else {
            return Err(RollupError::NotStarted { tenant, period: message.period });
        };
        if instance.run != message.run || instance.status == RuntimeStatus::Completed {
            return Ok(None);
        }
        let lease_name = format!("rollup-finish-{tenant}");
        let Some(lease) = self.stores.leases.acquire(&lease_name, Duration::from_secs(60)).await? else {
            return Err(RollupError::Busy);
        };
        let result = self.finish_under_lease(&tenant, &instance).await;
        let _ = self.stores.leases.release(&lease).await;
        match result {
            Ok((outputs, summary)) => {
                let done = self
                    .update(&tenant, message.period, message.run, |i| {
                        i.status = RuntimeStatus::Completed;
                        i.completed_at = Some(Utc::now());
                        i.outputs = outputs.clone();
                        i.summary = Some(summary.clone());
                        i.finish_failure = None;
                        true
                    })
                    .await?;
                if let Some(i) = &done {
                    info!(rollup = %i.id, run = i.run, "rollup completed");
                }
                Ok(done)
            }
            Err(e) => {
                if attempt >= MAX_ATTEMPTS {
                    let failure = Failure { error: error_chain(&e), attempts: attempt, at: Utc::now() };
                    self.update(&tenant, message.period, message.run, |i| {
                        i.status = RuntimeStatus::Failed;
                        i.finish_failure = Some(failure.clone());
                        true
                    })
                    .await?;
                }
                Err(e)
            }
        }
    }

    async fn finish_under_lease(
        &self,
        tenant: &Tenant,
        instance: &RollupInstance,
    ) -> Result<(Vec<String>, serde_json::Value), RollupError> {
        let plan = self.plan(instance).await?;
        let partitions: Vec<LedgerPartition> = plan
            .iter()
            .map(|c| LedgerPartition { tenant: tenant.clone(), day: c.day, party: c.party.clone() })
            .collect();
        let aggregates = self.stores.rollup.aggregates(tenant, &partitions).await?;
        let awaiting = self.awaiting(tenant, instance.period).await?;
        let priced =
            finish::price_month(&self.pricing, self.invoices.as_ref(), tenant, instance.period, &aggregates, awaiting)
                .await?;
        let outputs = self.write_priced(tenant, instance.period, &priced).await?;
        Ok((outputs, priced.summary))
    }

    /// Replaces a month's results and writes its report files: their names.
    async fn write_priced(
        &self,
        tenant: &Tenant,
        period: Period,
        priced: &finish::Priced,
    ) -> Result<Vec<String>, RollupError> {
        self.stores.rollup.replace_results(tenant, period, &priced.results).await?;
        let mut outputs = Vec::new();
        for (file, body) in &priced.files {
            let name = report_name(tenant, period, file);
            self.stores.outputs.put(&name, body, WriteCondition::Always).await?;
            outputs.push(name);
        }
        Ok(outputs)
    }

    /// A completed month's statement (without corrections) and the
    /// deployments it is priced with, priced again from the month's
    /// aggregates as the finish step prices them; and its run.
    async fn month_statement(
        &self,
        tenant: &Tenant,
        period: Period,
    ) -> Result<(RollupInstance, Statement, DeploymentCatalogue), RollupError> {
        let instance = self.current(tenant, period).await?;
        if instance.status != RuntimeStatus::Completed {
            return Err(RollupError::NotCompleted { period, run: instance.run, status: instance.status });
        }
        let partitions: Vec<LedgerPartition> = self
            .plan(&instance)
            .await?
            .iter()
            .map(|c| LedgerPartition { tenant: tenant.clone(), day: c.day, party: c.party.clone() })
            .collect();
        let aggregates = self.stores.rollup.aggregates(tenant, &partitions).await?;
        let (statement, deployments) = self.pricing.statement_and_deployments(tenant, period, &aggregates).await?;
        let statement = statement.with_awaiting(self.awaiting(tenant, period).await?);
        Ok((instance, statement, deployments))
    }

    /// The month's usage awaiting attribution now: the calls that happened in
    /// it and wait for their caller (all models and deployments).
    async fn awaiting(&self, tenant: &Tenant, period: Period) -> Result<Awaiting, StorageError> {
        let Some(store) = &self.stores.gateway_logs else { return Ok(Awaiting::default()) };
        let start = |day: NaiveDate| day.and_time(chrono::NaiveTime::MIN).and_utc();
        let calls = store.open_calls_between(tenant, start(period.first_day()), start(period.next_first_day())).await?;
        Ok(Awaiting::of_calls(calls.iter().map(OpenCall::parts), |_, _| true))
    }

    /// A completed month's statement, priced again from its aggregates as
    /// the finish step prices them (without corrections).
    pub async fn statement(&self, tenant: &Tenant, period: Period) -> Result<Statement, RollupError> {
        Ok(self.month_statement(tenant, period).await?.1)
    }

    /// Reconciles a completed month with an invoice export (`invoice`, the
    /// bytes of a CSV or gzip-compressed CSV; `file` names it in messages).
    /// With `true_up`, the month's results and report files are written
    /// again with the correction lines and the reconciliation's files, under
    /// the tenant's lease; nothing is written when the export or the true-up
    /// is refused.
    pub async fn reconcile(
        &self,
        tenant: &Tenant,
        period: Period,
        invoice: &[u8],
        file: &str,
        true_up: bool,
    ) -> Result<Reconciled, RollupError> {
        let (instance, statement, deployments) = self.month_statement(tenant, period).await?;
        let invoice = Invoice::parse(invoice, file, period, &statement.currency)?;
        let reconciliation = reconcile::reconcile(&statement, &invoice, &deployments);
        if !true_up {
            return Ok(Reconciled { statement, reconciliation, trued_up: None });
        }
        let trued = reconcile::true_up(&statement, &reconciliation)?;
        let priced = finish::priced(&trued, Some(&reconciliation));
        let lease_name = format!("rollup-finish-{tenant}");
        let Some(lease) = self.stores.leases.acquire(&lease_name, Duration::from_secs(60)).await? else {
            return Err(RollupError::Busy);
        };
        let written = self.write_priced(tenant, period, &priced).await;
        let _ = self.stores.leases.release(&lease).await;
        let outputs = written?;
        self.update(tenant, period, instance.run, |i| {
            i.outputs = outputs.clone();
            i.summary = Some(priced.summary.clone());
            true
        })
        .await?;
        info!(rollup = %instance.id, run = instance.run, "month trued up to the invoice");
        Ok(Reconciled { statement, reconciliation, trued_up: Some(trued) })
    }

    /// The plan of a run.
    pub async fn plan(&self, instance: &RollupInstance) -> Result<Vec<PlannedChunk>, RollupError> {
        let doc = self.stores.state.get(&instance.plan).await?.ok_or_else(|| {
            StorageError::Corrupt(format!("the plan {} of {} is missing", instance.plan, instance.id))
        })?;
        let plan = serde_json::from_slice(&doc.body)
            .map_err(|source| StorageError::Document { name: instance.plan.clone(), source })?;
        Ok(plan)
    }

    async fn load(&self, tenant: &Tenant, period: Period) -> Result<Option<(RollupInstance, String)>, StorageError> {
        let name = instance_name(tenant, period);
        let Some(Versioned { body, etag }) = self.stores.state.get(&name).await? else {
            return Ok(None);
        };
        let instance = serde_json::from_slice(&body).map_err(|source| StorageError::Document { name, source })?;
        Ok(Some((instance, etag)))
    }

    async fn save(&self, instance: &RollupInstance, condition: WriteCondition) -> Result<Option<String>, StorageError> {
        let name = instance_name(&instance.tenant, instance.period);
        let body =
            serde_json::to_vec(instance).map_err(|source| StorageError::Document { name: name.clone(), source })?;
        self.stores.state.put(&name, &body, condition).await
    }

    /// Applies `change` to run `run` of the month with a conditional write,
    /// again on conflict. `change` returns whether it changed anything.
    /// `None` when the run is not the current one.
    async fn update(
        &self,
        tenant: &Tenant,
        period: Period,
        run: u32,
        mut change: impl FnMut(&mut RollupInstance) -> bool,
    ) -> Result<Option<RollupInstance>, StorageError> {
        for attempt in 0..CAS_ATTEMPTS {
            let Some((mut instance, etag)) = self.load(tenant, period).await? else { return Ok(None) };
            if instance.run != run {
                return Ok(None);
            }
            if !change(&mut instance) {
                return Ok(Some(instance));
            }
            instance.updated_at = Utc::now();
            if self.save(&instance, WriteCondition::IfMatch(etag)).await?.is_some() {
                return Ok(Some(instance));
            }
            // Lost the race: back off a little, more as conflicts repeat.
            let jitter = u64::from(rand::random::<u8>() % 20);
            tokio::time::sleep(Duration::from_millis(jitter + u64::from(attempt.min(20)) * 5)).await;
        }
        Err(StorageError::Contended(format!("the rollup state of {tenant}/{period}")))
    }
}

/// An error and its causes on one line, as the run's state shows a failure
/// (store errors only: no secrets).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn chunk_messages(
    instance: &RollupInstance,
    plan: &[PlannedChunk],
    indexes: impl IntoIterator<Item = usize>,
) -> Vec<ChunkMessage> {
    indexes
        .into_iter()
        .filter_map(|i| {
            plan.get(i).map(|c| ChunkMessage {
                tenant: instance.tenant.clone(),
                period: instance.period,
                run: instance.run,
                chunk: i,
                day: c.day,
                party: c.party.clone(),
            })
        })
        .collect()
}

fn finish_message(instance: &RollupInstance) -> FinishMessage {
    FinishMessage { tenant: instance.tenant.clone(), period: instance.period, run: instance.run }
}
