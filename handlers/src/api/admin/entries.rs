//! The administration data: who pays (applications, business units), what
//! the deployments are, and the budgets. Each collection is a keyed set of
//! entries; the wire form of an entry is its value with the key added under
//! the collection's key field.

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::params::Name;

/// A kind of admin collection.
pub trait Collection: Send + Sync + 'static {
    /// The value stored under a key.
    type Value: Serialize + DeserializeOwned + Clone + Send + Sync + std::fmt::Debug + PartialEq;
    /// The path segment and document name (`admin/<tenant>/<NAME>.json`).
    const NAME: &'static str;
    /// The field that holds the key in the wire form of an entry.
    const KEY_FIELD: &'static str;
    /// Checks a value beyond its types (amounts not negative and the like).
    fn check(value: &Self::Value) -> Result<(), String>;
}

/// A display text: 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

impl TryFrom<String> for Text {
    type Error = &'static str;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let text = raw.trim();
        if text.is_empty() || text.chars().count() > 200 || text.chars().any(char::is_control) {
            return Err("use 1-200 characters without control characters");
        }
        Ok(Self(text.to_owned()))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.0
    }
}

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 4217 currency code (three upper-case letters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl TryFrom<String> for Currency {
    type Error = &'static str;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(raw))
        } else {
            Err("use an ISO 4217 code: three upper-case letters such as EUR or USD")
        }
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.0
    }
}

impl Currency {
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The largest amount of money accepted (a sanity bound, not a business rule).
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0); // 10^12

fn check_amount(field: &str, amount: &Decimal) -> Result<(), String> {
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(format!("{field} must not be negative"));
    }
    if *amount > MAX_AMOUNT {
        return Err(format!("{field} is larger than {MAX_AMOUNT}"));
    }
    if amount.scale() > 6 {
        return Err(format!("{field} has more than 6 decimal places"));
    }
    Ok(())
}

/// A party's application and business unit (key: `party`, an application
/// id, APIM subscription id or key fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Application name.
    pub application: Name,
    /// Business unit id.
    pub business_unit: Name,
}

/// The applications collection.
#[derive(Debug)]
pub struct Applications;

impl Collection for Applications {
    type Value = Application;
    const NAME: &'static str = "applications";
    const KEY_FIELD: &'static str = "party";
    fn check(_: &Application) -> Result<(), String> {
        Ok(())
    }
}

/// A business unit (key: `id`, the name the application mapping uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessUnit {
    /// Name for people.
    pub display_name: Text,
    /// Cost center in the finance system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<Text>,
}

/// The business units collection.
#[derive(Debug)]
pub struct BusinessUnits;

impl Collection for BusinessUnits {
    type Value = BusinessUnit;
    const NAME: &'static str = "business-units";
    const KEY_FIELD: &'static str = "id";
    fn check(_: &BusinessUnit) -> Result<(), String> {
        Ok(())
    }
}

/// An Azure OpenAI deployment (key: `deployment`): its model and, for
/// provisioned throughput, what it costs and can carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// The model it serves.
    pub model: Name,
    /// Deployment type: global (default), data-zone, regional or provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_type: Option<Name>,
    /// Provisioned cost per month, in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptu_monthly_cost: Option<Decimal>,
    /// Provisioned cost per hour, in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptu_hourly_cost: Option<Decimal>,
    /// Tokens per minute the deployment is sized for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_tokens_per_minute: Option<u64>,
    /// Currency of the costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// ARM id of the Azure OpenAI account the deployment belongs to (what the invoice bills).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Azure region of the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Name>,
}

/// The deployments collection.
#[derive(Debug)]
pub struct Deployments;

impl Collection for Deployments {
    type Value = Deployment;
    const NAME: &'static str = "deployments";
    const KEY_FIELD: &'static str = "deployment";
    fn check(d: &Deployment) -> Result<(), String> {
        for (name, cost) in [("ptu_monthly_cost", &d.ptu_monthly_cost), ("ptu_hourly_cost", &d.ptu_hourly_cost)] {
            if let Some(cost) = cost {
                check_amount(name, cost)?;
            }
        }
        // The rules the chargeback prices with (types, one PTU cost, ...).
        let columns = d.columns();
        crate::billing::DeploymentCatalogue::default()
            .insert("deployment", d.model.as_str(), &|c| columns.get(c).map_or("", String::as_str))
            .map_err(|e| format!("{:#}", e).replacen("deployment deployment: ", "", 1))
    }
}

impl Deployment {
    /// The optional columns as the deployments file writes them.
    pub fn columns(&self) -> std::collections::HashMap<&'static str, String> {
        let mut out = std::collections::HashMap::new();
        let mut put = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                out.insert(k, v);
            }
        };
        put("deployment_type", self.deployment_type.as_ref().map(|t| t.as_str().to_owned()));
        put("ptu_monthly_cost", self.ptu_monthly_cost.map(|c| c.to_string()));
        put("ptu_hourly_cost", self.ptu_hourly_cost.map(|c| c.to_string()));
        put("capacity_tokens_per_minute", self.capacity_tokens_per_minute.map(|c| c.to_string()));
        put("currency", self.currency.as_ref().map(|c| c.as_str().to_owned()));
        put("resource_id", self.resource_id.clone());
        put("region", self.region.as_ref().map(|r| r.as_str().to_owned()));
        out
    }
}

/// A business unit's monthly budget (key: `business_unit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Money per calendar month (UTC), a decimal string.
    pub monthly_amount: Decimal,
    /// Its currency.
    pub currency: Currency,
    /// Tokens per calendar month, if also budgeted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_tokens: Option<u64>,
}

/// The budgets collection.
#[derive(Debug)]
pub struct Budgets;

impl Collection for Budgets {
    type Value = Budget;
    const NAME: &'static str = "budgets";
    const KEY_FIELD: &'static str = "business_unit";
    fn check(b: &Budget) -> Result<(), String> {
        check_amount("monthly_amount", &b.monthly_amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_amount_is_a_trillion() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000u64));
    }

    #[test]
    fn money_is_a_decimal_string_and_negative_or_unknown_fields_are_refused() {
        let b: Budget = serde_json::from_str(r#"{"monthly_amount":"1500.50","currency":"EUR"}"#).unwrap();
        assert_eq!(b.monthly_amount.to_string(), "1500.50");
        assert!(Budgets::check(&b).is_ok());
        let neg: Budget = serde_json::from_str(r#"{"monthly_amount":"-1","currency":"EUR"}"#).unwrap();
        assert!(Budgets::check(&neg).is_err());
        assert!(serde_json::from_str::<Budget>(r#"{"monthly_amount":"1","currency":"eur"}"#).is_err());
        assert!(serde_json::from_str::<Budget>(r#"{"monthly_amount":"1","currency":"EUR","x":1}"#).is_err());
    }
}
