//! The directory's seed and import format: CSV files a finance team keeps
//! (`CHARGEBACK_APPLICATIONS`, `CHARGEBACK_DEPLOYMENTS`). A collection never
//! written over the API reads its entries from them; a missing file is an
//! empty collection.
//!
//! - `applications.csv`: the header `party,application,business_unit`.
//!   `party` is what the ledger attributes usage to: an application id
//!   (token claim), an APIM subscription id, or a key fingerprint (`fp_…`,
//!   printed by `chargeback fingerprint KEY`). An empty application is the
//!   party itself, an empty business unit `unassigned`. It is applied when
//!   usage is reported, so fixing it fixes every report, past ones included.
//! - `deployments.csv`: the columns `deployment` and `model`, and optionally
//!   `deployment_type` (`global`, `data-zone`, `regional` or `provisioned`;
//!   empty is `global`), `ptu_monthly_cost` or `ptu_hourly_cost` (exactly
//!   one, provisioned only), `capacity_tokens_per_minute` (provisioned only:
//!   makes unused capacity measurable), `currency` (provisioned only,
//!   default `USD`), `resource_id` (the ARM id of the Azure OpenAI account
//!   the deployment belongs to, which the invoice bills:
//!   `/subscriptions/…/resourceGroups/…/providers/Microsoft.CognitiveServices/accounts/…`)
//!   and `region` (the account's Azure region, `swedencentral`, which also
//!   decides its data-zone or regional price), in any order; empty cells
//!   are absent values.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rust_decimal::Decimal;

use crate::domain::{
    AccountId, AccountIdError, Application, Currency, CurrencyError, Deployment, DeploymentError, DeploymentFields,
    DeploymentType, Name, NameError, Region, RegionError, UNASSIGNED,
};

/// The header of the applications file.
const APPLICATIONS_HEADER: [&str; 3] = ["party", "application", "business_unit"];

/// The optional columns of the deployments file.
const DEPLOYMENT_COLUMNS: [&str; 7] = [
    "deployment_type",
    "ptu_monthly_cost",
    "ptu_hourly_cost",
    "capacity_tokens_per_minute",
    "currency",
    "resource_id",
    "region",
];

/// Why a seed file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read, or is not CSV.
    #[error("not a readable CSV file")]
    Csv(#[from] csv::Error),
    /// The header is not the one the file must have.
    #[error("the header must be {0}")]
    Header(&'static str),
    /// A column the format does not have (a typo would be silently ignored).
    #[error(
        "unknown column {0:?}; the optional columns are deployment_type, ptu_monthly_cost, ptu_hourly_cost, \
         capacity_tokens_per_minute, currency, resource_id, region"
    )]
    UnknownColumn(String),
    /// A column named twice.
    #[error("column {0} appears twice")]
    DuplicateColumn(String),
    /// A key on two lines (deployment names regardless of case).
    #[error("line {line}: {key} is listed twice")]
    Duplicate {
        /// The second line.
        line: u64,
        /// The key.
        key: String,
    },
    /// A cell is wrong.
    #[error("line {line}: {column}")]
    Cell {
        /// The line (1-based, the header is line 1).
        line: u64,
        /// The column.
        column: &'static str,
        /// What is wrong with it.
        #[source]
        source: CellError,
    },
}

/// What is wrong with a cell of a seed file.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// Empty where a value is required.
    #[error("is required")]
    Missing,
    /// Not a name.
    #[error("is not a name")]
    Name(#[from] NameError),
    /// Not a decimal amount.
    #[error("is not a decimal amount")]
    Decimal(#[from] rust_decimal::Error),
    /// Not a whole number.
    #[error("is not a whole number")]
    Integer(#[from] std::num::ParseIntError),
    /// Not a currency code.
    #[error("is not a currency")]
    Currency(#[from] CurrencyError),
    /// Not the ARM id of an Azure OpenAI account.
    #[error("is not an account id")]
    Account(#[from] AccountIdError),
    /// Not a region name.
    #[error("is not a region")]
    Region(#[from] RegionError),
    /// Not a deployment type.
    #[error("{0:?}: use global, data-zone, regional or provisioned")]
    DeploymentType(String),
    /// The row describes no consistent deployment.
    #[error("does not describe a consistent deployment")]
    Deployment(#[from] DeploymentError),
}

fn cell(line: u64, column: &'static str) -> impl FnOnce(CellError) -> SeedError {
    move |source| SeedError::Cell { line, column, source }
}

fn name(line: u64, column: &'static str, raw: &str) -> Result<Name, SeedError> {
    Name::parse(raw).map_err(|e| cell(line, column)(e.into()))
}

/// A reader of a seed file; `None` when the file does not exist.
fn open(path: &Path) -> Result<Option<csv::Reader<std::fs::File>>, SeedError> {
    match csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(path) {
        Ok(reader) => Ok(Some(reader)),
        Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn line_of(row: &csv::StringRecord) -> u64 {
    row.position().map_or(0, csv::Position::line)
}

/// Reads an applications file: party → application and business unit.
pub fn read_applications(path: &Path) -> Result<BTreeMap<Name, Application>, SeedError> {
    let Some(mut reader) = open(path)? else { return Ok(BTreeMap::new()) };
    if !reader.headers()?.iter().eq(APPLICATIONS_HEADER) {
        return Err(SeedError::Header("party,application,business_unit"));
    }
    let mut out = BTreeMap::new();
    for row in reader.records() {
        let row = row?;
        let line = line_of(&row);
        let (party, application, business_unit) = (&row[0], &row[1], &row[2]);
        if party.is_empty() {
            return Err(cell(line, "party")(CellError::Missing));
        }
        let entry = Application {
            application: name(line, "application", if application.is_empty() { party } else { application })?,
            business_unit: name(
                line,
                "business_unit",
                if business_unit.is_empty() { UNASSIGNED } else { business_unit },
            )?,
        };
        out.insert(name(line, "party", party)?, entry);
    }
    Ok(out)
}

/// Writes an applications file, sorted by party.
pub fn write_applications(path: &Path, entries: &BTreeMap<Name, Application>) -> Result<(), SeedError> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record(APPLICATIONS_HEADER)?;
    for (party, a) in entries {
        writer.write_record([party.as_str(), a.application.as_str(), a.business_unit.as_str()])?;
    }
    writer.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// Reads a deployments file.
pub fn read_deployments(path: &Path) -> Result<BTreeMap<Name, Deployment>, SeedError> {
    match open(path)? {
        Some(reader) => deployments(reader),
        None => Ok(BTreeMap::new()),
    }
}

/// Parses the text of a deployments file.
pub fn parse_deployments(text: &str) -> Result<BTreeMap<Name, Deployment>, SeedError> {
    deployments(csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes()))
}

fn deployments<R: std::io::Read>(mut reader: csv::Reader<R>) -> Result<BTreeMap<Name, Deployment>, SeedError> {
    let headers = reader.headers()?.clone();
    let mut columns: HashMap<&'static str, usize> = HashMap::new();
    for (i, header) in headers.iter().enumerate() {
        let known = ["deployment", "model"]
            .into_iter()
            .chain(DEPLOYMENT_COLUMNS)
            .find(|c| *c == header)
            .ok_or_else(|| SeedError::UnknownColumn(header.to_owned()))?;
        if columns.insert(known, i).is_some() {
            return Err(SeedError::DuplicateColumn(header.to_owned()));
        }
    }
    if !(columns.contains_key("deployment") && columns.contains_key("model")) {
        return Err(SeedError::Header("one naming the columns deployment and model"));
    }
    let mut out = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for row in reader.records() {
        let row = row?;
        let line = line_of(&row);
        let value = |column: &str| columns.get(column).and_then(|c| row.get(*c)).filter(|v| !v.is_empty());
        let required = |column: &'static str| value(column).ok_or_else(|| cell(line, column)(CellError::Missing));
        let amount = |column: &'static str| {
            value(column).map(|v| v.parse::<Decimal>().map_err(|e| cell(line, column)(e.into()))).transpose()
        };
        let deployment_type = value("deployment_type")
            .map(|v| {
                DeploymentType::parse(v)
                    .ok_or_else(|| cell(line, "deployment_type")(CellError::DeploymentType(v.to_owned())))
            })
            .transpose()?;
        let fields = DeploymentFields {
            model: name(line, "model", required("model")?)?,
            deployment_type,
            ptu_monthly_cost: amount("ptu_monthly_cost")?,
            ptu_hourly_cost: amount("ptu_hourly_cost")?,
            capacity_tokens_per_minute: value("capacity_tokens_per_minute")
                .map(|v| v.parse::<u64>().map_err(|e| cell(line, "capacity_tokens_per_minute")(e.into())))
                .transpose()?,
            currency: value("currency")
                .map(|v| Currency::parse_any_case(v).map_err(|e| cell(line, "currency")(e.into())))
                .transpose()?,
            resource_id: value("resource_id")
                .map(|v| AccountId::parse(v).map_err(|e| cell(line, "resource_id")(e.into())))
                .transpose()?,
            region: value("region")
                .map(|v| Region::parse(v).map_err(|e| cell(line, "region")(e.into())))
                .transpose()?,
        };
        let deployment = Deployment::new(fields).map_err(|e| cell(line, "deployment")(e.into()))?;
        let key = name(line, "deployment", required("deployment")?)?;
        if !seen.insert(key.as_str().to_ascii_lowercase()) {
            return Err(SeedError::Duplicate { line, key: key.to_string() });
        }
        out.insert(key, deployment);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProvisionedCost;

    fn error_chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }

    #[test]
    fn the_two_column_file_still_maps_models_and_defaults_to_global() {
        let deployments = parse_deployments("deployment,model\nchat-prod,gpt-4o\n").unwrap();
        let chat = &deployments[&Name::parse("chat-prod").unwrap()];
        assert_eq!((chat.model().as_str(), chat.deployment_type()), ("gpt-4o", DeploymentType::Global));
    }

    #[test]
    fn optional_columns_in_any_order() {
        let text = "model,deployment,currency,deployment_type,ptu_hourly_cost,capacity_tokens_per_minute,ptu_monthly_cost\n\
                    gpt-4o,eu-chat,,data-zone,,,\n\
                    gpt-4o,ptu-chat,eur,provisioned,2.50,50000,\n";
        let deployments = parse_deployments(text).unwrap();
        let eu = &deployments[&Name::parse("eu-chat").unwrap()];
        assert_eq!(eu.deployment_type(), DeploymentType::DataZone);
        let ptu = deployments[&Name::parse("ptu-chat").unwrap()].provisioned().unwrap();
        assert_eq!(ptu.cost, ProvisionedCost::Hourly("2.50".parse().unwrap()));
        assert_eq!(ptu.cost_for(720).amount(), "1800.00".parse::<Decimal>().unwrap());
        assert_eq!((ptu.capacity_tokens_per_minute, ptu.currency.as_str()), (Some(50_000), "EUR"));
    }

    #[test]
    fn mistakes_are_rejected_with_the_line() {
        for (text, expected) in [
            ("model\n", "deployment and model"),
            ("deployment,model,colour\n", "unknown column"),
            ("deployment,model,deployment_type\nx,gpt-4o,standard\n", "line 2: deployment_type"),
            ("deployment,model,deployment_type\nx,gpt-4o,provisioned\n", "exactly one"),
            ("deployment,model,ptu_monthly_cost\nx,gpt-4o,100\n", "provisioned deployments only"),
            ("deployment,model\nx,gpt-4o\nX,gpt-4o\n", "line 3: X is listed twice"),
            ("deployment,model,currency,deployment_type,ptu_monthly_cost\nx,m,euro,provisioned,1\n", "currency"),
            ("deployment,model\nx,\n", "line 2: model: is required"),
            ("deployment,model,resource_id\nx,m,oai-prod\n", "line 2: resource_id: is not an account id"),
            ("deployment,model,region\nx,m,sweden central\n", "line 2: region: is not a region"),
        ] {
            let error = error_chain(&parse_deployments(text).unwrap_err());
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn applications_default_to_the_party_and_unassigned_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("applications.csv");
        std::fs::write(&path, "party,application,business_unit\nsub-a,chatbot,finance\nfp_1,,\n").unwrap();
        let read = read_applications(&path).unwrap();
        let fp = &read[&Name::parse("fp_1").unwrap()];
        assert_eq!((fp.application.as_str(), fp.business_unit.as_str()), ("fp_1", UNASSIGNED));
        write_applications(&path, &read).unwrap();
        assert_eq!(read_applications(&path).unwrap(), read);
        assert!(read_applications(&dir.path().join("missing.csv")).unwrap().is_empty());
        std::fs::write(&path, "party,app,unit\n").unwrap();
        assert!(matches!(read_applications(&path), Err(SeedError::Header(_))));
    }
}
