//! Azure OpenAI deployments: the model each serves, how it is billed, and
//! what a provisioned (PTU) deployment costs.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AccountId, AmountError, Currency, Money, Name, Region, check_amount};

/// How a deployment is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// The type of deployments nobody described.
    pub const DEFAULT: DeploymentType = DeploymentType::Global;

    /// The name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::DataZone => "data-zone",
            Self::Regional => "regional",
            Self::Provisioned => "provisioned",
        }
    }

    /// Parses a name from a file or a request (case-insensitive;
    /// `datazone`, `data_zone` and `ptu` are accepted too).
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
    pub currency: Currency,
}

impl Provisioned {
    /// The cost of a month of `hours` hours.
    pub fn cost_for(&self, hours: u32) -> Money {
        let amount = match self.cost {
            ProvisionedCost::Monthly(amount) => amount,
            ProvisionedCost::Hourly(amount) => amount * Decimal::from(hours),
        };
        Money::new(amount, self.currency.clone())
    }
}

/// A deployment as described (kept under its name): the model it serves
/// and, for provisioned throughput, what it costs and can carry. Only
/// consistent descriptions exist: a provisioned deployment has exactly one
/// cost, the others none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DeploymentFields", into = "DeploymentFields")]
pub struct Deployment {
    fields: DeploymentFields,
}

/// The stored and wire form, as written (absent values stay absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentFields {
    /// The model it serves.
    pub model: Name,
    /// Deployment type: global (default), data-zone, regional or provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "optional_type")]
    pub deployment_type: Option<DeploymentType>,
    /// Provisioned cost per month, in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptu_monthly_cost: Option<Decimal>,
    /// Provisioned cost per hour, in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptu_hourly_cost: Option<Decimal>,
    /// Tokens per minute the deployment is sized for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_tokens_per_minute: Option<u64>,
    /// Currency of the costs (default USD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// ARM id of the Azure OpenAI account the deployment belongs to (what the invoice bills).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<AccountId>,
    /// Azure region of the account (`armRegionName`): which data-zone or
    /// regional price applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
}

/// Why a deployment's description is inconsistent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeploymentError {
    /// A cost is not an acceptable amount.
    #[error("{field} {problem}")]
    Amount {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: AmountError,
    },
    /// A provisioned deployment without a cost, or with both.
    #[error("a provisioned deployment needs exactly one of ptu_monthly_cost and ptu_hourly_cost")]
    ProvisionedCost,
    /// A PTU field on a pay-as-you-go deployment.
    #[error("PTU cost, capacity and currency are for provisioned deployments only")]
    NotProvisioned,
    /// A capacity of zero.
    #[error("capacity_tokens_per_minute must be positive")]
    ZeroCapacity,
}

impl Deployment {
    /// Checks a description.
    pub fn new(fields: DeploymentFields) -> Result<Self, DeploymentError> {
        for (field, cost) in
            [("ptu_monthly_cost", fields.ptu_monthly_cost), ("ptu_hourly_cost", fields.ptu_hourly_cost)]
        {
            if let Some(cost) = cost {
                check_amount(cost).map_err(|problem| DeploymentError::Amount { field, problem })?;
            }
        }
        if fields.capacity_tokens_per_minute == Some(0) {
            return Err(DeploymentError::ZeroCapacity);
        }
        let ptu_fields = fields.ptu_monthly_cost.is_some()
            || fields.ptu_hourly_cost.is_some()
            || fields.capacity_tokens_per_minute.is_some()
            || fields.currency.is_some();
        if fields.deployment_type == Some(DeploymentType::Provisioned) {
            if fields.ptu_monthly_cost.is_some() == fields.ptu_hourly_cost.is_some() {
                return Err(DeploymentError::ProvisionedCost);
            }
        } else if ptu_fields {
            return Err(DeploymentError::NotProvisioned);
        }
        Ok(Self { fields })
    }

    /// A pay-as-you-go deployment of `model` of the given type.
    pub fn standard(model: Name, deployment_type: Option<DeploymentType>) -> Result<Self, DeploymentError> {
        Self::new(DeploymentFields {
            model,
            deployment_type,
            ptu_monthly_cost: None,
            ptu_hourly_cost: None,
            capacity_tokens_per_minute: None,
            currency: None,
            resource_id: None,
            region: None,
        })
    }

    /// The model it serves.
    pub fn model(&self) -> &Name {
        &self.fields.model
    }

    /// How it is billed ([`DeploymentType::DEFAULT`] unless described).
    pub fn deployment_type(&self) -> DeploymentType {
        self.fields.deployment_type.unwrap_or(DeploymentType::DEFAULT)
    }

    /// The cost of a provisioned deployment.
    pub fn provisioned(&self) -> Option<Provisioned> {
        let f = &self.fields;
        let cost = match (f.ptu_monthly_cost, f.ptu_hourly_cost) {
            (Some(m), None) => ProvisionedCost::Monthly(m),
            (None, Some(h)) => ProvisionedCost::Hourly(h),
            _ => return None,
        };
        (self.deployment_type() == DeploymentType::Provisioned).then(|| Provisioned {
            cost,
            capacity_tokens_per_minute: f.capacity_tokens_per_minute,
            currency: f.currency.clone().unwrap_or(Currency::USD),
        })
    }

    /// The Azure OpenAI account it belongs to, if described.
    pub fn resource_id(&self) -> Option<&AccountId> {
        self.fields.resource_id.as_ref()
    }

    /// The account's region, if described.
    pub fn region(&self) -> Option<&Region> {
        self.fields.region.as_ref()
    }

    /// The description as written.
    pub fn fields(&self) -> &DeploymentFields {
        &self.fields
    }
}

impl TryFrom<DeploymentFields> for Deployment {
    type Error = DeploymentError;

    fn try_from(fields: DeploymentFields) -> Result<Self, DeploymentError> {
        Self::new(fields)
    }
}

impl From<Deployment> for DeploymentFields {
    fn from(d: Deployment) -> Self {
        d.fields
    }
}

/// A deployment type as text in documents, with the aliases of
/// [`DeploymentType::parse`] accepted.
mod optional_type {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::DeploymentType;

    pub fn serialize<S: Serializer>(value: &Option<DeploymentType>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => s.serialize_str(t.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DeploymentType>, D::Error> {
        let raw = String::deserialize(d)?;
        DeploymentType::parse(&raw).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("deployment_type {raw:?}: use global, data-zone, regional or provisioned"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Deployment, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn a_provisioned_deployment_has_exactly_one_cost_and_others_none() {
        let ptu =
            parse(r#"{"model":"gpt-4o","deployment_type":"PTU","ptu_hourly_cost":"2.50","currency":"EUR"}"#).unwrap();
        let provisioned = ptu.provisioned().unwrap();
        assert_eq!(provisioned.cost_for(720).amount(), Decimal::from(1800));
        assert_eq!(provisioned.currency.as_str(), "EUR");
        assert_eq!(ptu.deployment_type(), DeploymentType::Provisioned);
        for bad in [
            r#"{"model":"m","deployment_type":"provisioned"}"#,
            r#"{"model":"m","deployment_type":"provisioned","ptu_monthly_cost":"1","ptu_hourly_cost":"1"}"#,
            r#"{"model":"m","ptu_monthly_cost":"1"}"#,
            r#"{"model":"m","deployment_type":"standard"}"#,
            r#"{"model":"m","deployment_type":"provisioned","ptu_monthly_cost":"-1"}"#,
            r#"{"model":"m","colour":"red"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let id = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/oai";
        let placed = parse(&format!(r#"{{"model":"gpt-4o","resource_id":"{id}/","region":"SwedenCentral"}}"#)).unwrap();
        assert_eq!(placed.resource_id().map(AccountId::as_str), Some(id));
        assert_eq!(placed.region().map(Region::as_str), Some("swedencentral"));
        assert!(parse(r#"{"model":"m","resource_id":"/subscriptions/1"}"#).is_err());
        let plain = parse(r#"{"model":"gpt-4o"}"#).unwrap();
        assert_eq!((plain.deployment_type(), plain.provisioned()), (DeploymentType::Global, None));
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"model":"gpt-4o"}"#);
    }
}
