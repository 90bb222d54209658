//! Azure OpenAI deployments: the model each serves, how it is billed, and what
//! a provisioned (PTU) deployment costs.
//!
//! The deployment mapping file (`CHARGEBACK_DEPLOYMENTS`) starts with the
//! columns `deployment,model`; these optional columns may follow, in any order:
//!
//! - `deployment_type`: `global`, `data-zone`, `regional` or `provisioned`;
//!   empty, or a deployment the file does not list, is `global`;
//! - `ptu_monthly_cost` or `ptu_hourly_cost` (exactly one, provisioned only):
//!   what the deployment costs for a calendar month, or per hour;
//! - `capacity_tokens_per_minute` (provisioned only, optional): the declared
//!   throughput, which makes unused capacity measurable;
//! - `currency` (provisioned only, default `USD`);
//! - `resource_id`: the ARM id of the Azure OpenAI (Cognitive Services)
//!   account the deployment belongs to, which the invoice bills
//!   (`/subscriptions/…/resourceGroups/…/providers/Microsoft.CognitiveServices/accounts/…`);
//! - `region`: the Azure region the account is in (`swedencentral`).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use anyhow::Context;
use rust_decimal::Decimal;
use serde::Serialize;

/// How a deployment is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentType {
    /// Global standard: pay-as-you-go, served from any region.
    Global,
    /// Data zone standard: pay-as-you-go within a data zone (EU, US).
    DataZone,
    /// Regional standard: pay-as-you-go in the resource's region.
    Regional,
    /// Provisioned throughput (PTU): a fixed cost for reserved capacity.
    Provisioned,
}

impl DeploymentType {
    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::DataZone => "data-zone",
            Self::Regional => "regional",
            Self::Provisioned => "provisioned",
        }
    }

    /// Parses a name from a file (case-insensitive; `datazone` and
    /// `data_zone` are accepted too).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "global" => Some(Self::Global),
            "data-zone" | "datazone" | "data_zone" => Some(Self::DataZone),
            "regional" => Some(Self::Regional),
            "provisioned" | "ptu" => Some(Self::Provisioned),
            _ => None,
        }
    }
}

impl fmt::Display for DeploymentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a provisioned deployment costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionedCost {
    /// A fixed amount per calendar month.
    Monthly(Decimal),
    /// An amount per hour, for every hour of the month.
    Hourly(Decimal),
}

/// A provisioned (PTU) deployment's cost and declared capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// Its cost.
    pub cost: ProvisionedCost,
    /// Declared throughput in tokens per minute, if known.
    pub capacity_tokens_per_minute: Option<u64>,
    /// Currency of the cost.
    pub currency: String,
}

impl Provisioned {
    /// The cost of a month of `hours` hours.
    pub fn cost_for(&self, hours: u32) -> Decimal {
        match self.cost {
            ProvisionedCost::Monthly(amount) => amount,
            ProvisionedCost::Hourly(amount) => amount * Decimal::from(hours),
        }
    }
}

/// One deployment of the mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Deployment {
    model: String,
    deployment_type: DeploymentType,
    provisioned: Option<Provisioned>,
    resource_id: Option<String>,
    region: Option<String>,
}

/// The ARM resource type of an Azure OpenAI account.
pub const ACCOUNT_RESOURCE_TYPE: &str = "microsoft.cognitiveservices/accounts";

/// Checks the ARM id of an Azure OpenAI account and writes it without a
/// trailing slash: `/subscriptions/{id}/resourceGroups/{group}/providers/
/// Microsoft.CognitiveServices/accounts/{name}`, compared case-insensitively
/// as Azure does.
pub fn account_resource_id(raw: &str) -> Result<String, String> {
    let id = raw.trim().trim_end_matches('/');
    let parts: Vec<&str> = id.split('/').collect();
    let ok = parts.len() == 9
        && parts[0].is_empty()
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && parts[5].eq_ignore_ascii_case("providers")
        && format!("{}/{}", parts[6], parts[7]).eq_ignore_ascii_case(ACCOUNT_RESOURCE_TYPE)
        && [2, 4, 8].iter().all(|i| !parts[*i].is_empty() && !parts[*i].contains(char::is_whitespace));
    if ok {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "resource_id {raw:?} is not the ARM id of an Azure OpenAI account \
             (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.CognitiveServices/accounts/<name>)"
        ))
    }
}

/// Deployment name → model, deployment type and PTU cost. Names are compared
/// case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct DeploymentCatalogue {
    by_name: HashMap<String, (String, Deployment)>,
}

const OPTIONAL_COLUMNS: [&str; 7] = [
    "deployment_type",
    "ptu_monthly_cost",
    "ptu_hourly_cost",
    "capacity_tokens_per_minute",
    "currency",
    "resource_id",
    "region",
];

impl DeploymentCatalogue {
    /// The deployment type of deployments the file does not list.
    pub const DEFAULT_TYPE: DeploymentType = DeploymentType::Global;

    /// Reads the mapping file; a missing file is an empty catalogue.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Parses the CSV text of a mapping file.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = reader.headers()?.clone();
        anyhow::ensure!(
            headers.len() >= 2 && &headers[0] == "deployment" && &headers[1] == "model",
            "the header must start with deployment,model (optional columns: {})",
            OPTIONAL_COLUMNS.join(", ")
        );
        let mut columns: HashMap<&str, usize> = HashMap::new();
        for (i, name) in headers.iter().enumerate().skip(2) {
            let known = OPTIONAL_COLUMNS.iter().find(|c| **c == name).with_context(|| {
                format!("unknown column {name:?}; the optional columns are {}", OPTIONAL_COLUMNS.join(", "))
            })?;
            anyhow::ensure!(columns.insert(known, i).is_none(), "column {name} appears twice");
        }
        let mut by_name = HashMap::new();
        for (i, row) in reader.records().enumerate() {
            let line = i + 2;
            let row = row.with_context(|| format!("line {line}"))?;
            let field = |name: &str| columns.get(name).and_then(|c| row.get(*c)).unwrap_or("");
            let (name, model) = (&row[0], &row[1]);
            anyhow::ensure!(!name.is_empty() && !model.is_empty(), "line {line}: empty deployment or model");
            let deployment = parse_deployment(model, &field).with_context(|| format!("line {line} ({name})"))?;
            let previous = by_name.insert(name.to_ascii_lowercase(), (name.to_owned(), deployment));
            anyhow::ensure!(previous.is_none(), "line {line}: deployment {name} is listed twice");
        }
        Ok(Self { by_name })
    }

    /// Adds (or replaces) a deployment; `column` gives the optional columns'
    /// texts by name ("" when absent), checked as in the file.
    pub fn insert<'a>(&mut self, name: &str, model: &str, column: &dyn Fn(&str) -> &'a str) -> anyhow::Result<()> {
        anyhow::ensure!(!name.is_empty() && !model.is_empty(), "empty deployment or model");
        let deployment = parse_deployment(model, column).with_context(|| format!("deployment {name}"))?;
        self.by_name.insert(name.to_ascii_lowercase(), (name.to_owned(), deployment));
        Ok(())
    }

    /// The model a deployment serves, if listed.
    pub fn model(&self, deployment: &str) -> Option<&str> {
        self.get(deployment).map(|d| d.model.as_str())
    }

    /// How a deployment is billed ([`Self::DEFAULT_TYPE`] when not listed).
    pub fn deployment_type(&self, deployment: &str) -> DeploymentType {
        self.get(deployment).map_or(Self::DEFAULT_TYPE, |d| d.deployment_type)
    }

    /// The PTU cost of a provisioned deployment.
    pub fn provisioned(&self, deployment: &str) -> Option<&Provisioned> {
        self.get(deployment).and_then(|d| d.provisioned.as_ref())
    }

    /// The ARM id of the account a deployment belongs to, if the file says.
    pub fn resource_id(&self, deployment: &str) -> Option<&str> {
        self.get(deployment).and_then(|d| d.resource_id.as_deref())
    }

    /// The region of a deployment's account, if the file says.
    pub fn region(&self, deployment: &str) -> Option<&str> {
        self.get(deployment).and_then(|d| d.region.as_deref())
    }

    /// The deployments of an account (by its ARM id, case-insensitively):
    /// their names as written, by name.
    pub fn deployments_of(&self, resource_id: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .by_name
            .values()
            .filter(|(_, d)| d.resource_id.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(resource_id)))
            .map(|(name, _)| name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// Whether an ARM id is the account of a listed deployment.
    pub fn knows_resource(&self, resource_id: &str) -> bool {
        self.by_name
            .values()
            .any(|(_, d)| d.resource_id.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(resource_id)))
    }

    /// Every provisioned deployment: (name as written, model, cost), by name.
    pub fn provisioned_deployments(&self) -> Vec<(&str, &str, &Provisioned)> {
        let mut all: Vec<_> = self
            .by_name
            .values()
            .filter_map(|(name, d)| d.provisioned.as_ref().map(|p| (name.as_str(), d.model.as_str(), p)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// Deployment → model, for the tokenizer.
    pub fn models(&self) -> chargeback_tokenizer::DeploymentModels {
        chargeback_tokenizer::DeploymentModels::from_pairs(
            self.by_name.values().map(|(name, d)| (name.clone(), d.model.clone())),
        )
    }

    fn get(&self, deployment: &str) -> Option<&Deployment> {
        self.by_name.get(&deployment.trim().to_ascii_lowercase()).map(|(_, d)| d)
    }
}

fn parse_deployment<'a>(model: &str, field: &dyn Fn(&str) -> &'a str) -> anyhow::Result<Deployment> {
    let deployment_type = match field("deployment_type") {
        "" => DeploymentCatalogue::DEFAULT_TYPE,
        raw => DeploymentType::parse(raw)
            .with_context(|| format!("deployment_type {raw:?}: use global, data-zone, regional or provisioned"))?,
    };
    let money = |name: &str| -> anyhow::Result<Option<Decimal>> {
        match field(name) {
            "" => Ok(None),
            raw => {
                let value: Decimal = raw.parse().with_context(|| format!("{name} {raw:?} is not a decimal amount"))?;
                anyhow::ensure!(value >= Decimal::ZERO, "{name} is negative");
                Ok(Some(value))
            }
        }
    };
    let (monthly, hourly) = (money("ptu_monthly_cost")?, money("ptu_hourly_cost")?);
    let capacity = match field("capacity_tokens_per_minute") {
        "" => None,
        raw => {
            let tpm: u64 =
                raw.parse().with_context(|| format!("capacity_tokens_per_minute {raw:?} is not a whole number"))?;
            anyhow::ensure!(tpm > 0, "capacity_tokens_per_minute must be positive");
            Some(tpm)
        }
    };
    let currency = field("currency");
    let resource_id = match field("resource_id") {
        "" => None,
        raw => Some(account_resource_id(raw).map_err(anyhow::Error::msg)?),
    };
    let region = match field("region").trim() {
        "" => None,
        raw if raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ') => Some(raw.to_owned()),
        raw => anyhow::bail!("region {raw:?}: use the Azure region name (swedencentral)"),
    };
    let provisioned = if deployment_type == DeploymentType::Provisioned {
        let cost = match (monthly, hourly) {
            (Some(m), None) => ProvisionedCost::Monthly(m),
            (None, Some(h)) => ProvisionedCost::Hourly(h),
            _ => anyhow::bail!("a provisioned deployment needs exactly one of ptu_monthly_cost and ptu_hourly_cost"),
        };
        let currency = if currency.is_empty() { "USD".to_owned() } else { currency.to_ascii_uppercase() };
        Some(Provisioned { cost, capacity_tokens_per_minute: capacity, currency })
    } else {
        anyhow::ensure!(
            monthly.is_none() && hourly.is_none() && capacity.is_none() && currency.is_empty(),
            "PTU cost, capacity and currency are for provisioned deployments only"
        );
        None
    };
    Ok(Deployment { model: model.to_owned(), deployment_type, provisioned, resource_id, region })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_column_file_still_maps_models_and_defaults_to_global() {
        let catalogue = DeploymentCatalogue::parse("deployment,model\nchat-prod,gpt-4o\n").unwrap();
        assert_eq!(catalogue.model("Chat-Prod"), Some("gpt-4o"));
        assert_eq!(catalogue.deployment_type("chat-prod"), DeploymentType::Global);
        assert_eq!(catalogue.deployment_type("not-listed"), DeploymentType::Global);
        assert_eq!(catalogue.models().model_for("chat-prod"), Some("gpt-4o"));
    }

    #[test]
    fn optional_columns_in_any_order() {
        let text = "deployment,model,currency,deployment_type,ptu_hourly_cost,capacity_tokens_per_minute,ptu_monthly_cost\n\
                    eu-chat,gpt-4o,,data-zone,,,\n\
                    ptu-chat,gpt-4o,eur,provisioned,2.50,50000,\n";
        let catalogue = DeploymentCatalogue::parse(text).unwrap();
        assert_eq!(catalogue.deployment_type("eu-chat"), DeploymentType::DataZone);
        let ptu = catalogue.provisioned("ptu-chat").unwrap();
        assert_eq!(ptu.cost, ProvisionedCost::Hourly("2.50".parse().unwrap()));
        assert_eq!(ptu.cost_for(720), "1800.00".parse().unwrap());
        assert_eq!(ptu.capacity_tokens_per_minute, Some(50_000));
        assert_eq!(ptu.currency, "EUR");
        assert_eq!(catalogue.provisioned_deployments().len(), 1);
    }

    #[test]
    fn deployments_name_their_account_and_region() {
        let id = "/subscriptions/0000/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-prod";
        let text = format!("deployment,model,resource_id,region\nchat,gpt-4o,{id}/,swedencentral\nptu,gpt-4.1,{id},\n");
        let catalogue = DeploymentCatalogue::parse(&text).unwrap();
        assert_eq!(catalogue.resource_id("chat"), Some(id));
        assert_eq!(catalogue.region("chat"), Some("swedencentral"));
        assert_eq!(catalogue.region("ptu"), None);
        assert_eq!(catalogue.deployments_of(&id.to_uppercase()), vec!["chat", "ptu"]);
        assert!(catalogue.knows_resource(id) && !catalogue.knows_resource("/subscriptions/x"));
        for bad in [
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x",
            &format!("{id}/deployments/chat"),
            "oai-prod",
        ] {
            let error = format!(
                "{:#}",
                DeploymentCatalogue::parse(&format!("deployment,model,resource_id\nx,m,{bad}\n")).unwrap_err()
            );
            assert!(error.contains("not the ARM id"), "{bad}: {error}");
        }
    }

    #[test]
    fn mistakes_are_rejected_with_the_line() {
        for (text, expected) in [
            ("model,deployment\n", "must start with deployment,model"),
            ("deployment,model,colour\n", "unknown column"),
            ("deployment,model,deployment_type\nx,gpt-4o,standard\n", "use global"),
            ("deployment,model,deployment_type\nx,gpt-4o,provisioned\n", "exactly one"),
            ("deployment,model,ptu_monthly_cost\nx,gpt-4o,100\n", "provisioned deployments only"),
            ("deployment,model\nx,gpt-4o\nX,gpt-4o\n", "listed twice"),
        ] {
            let error = format!("{:#}", DeploymentCatalogue::parse(text).unwrap_err());
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
