//! Which business unit pays for which party.
//!
//! The mapping is a CSV file with the header `party,application,business_unit`.
//! `party` is what the ledger attributes usage to: an application id (token
//! claim), an APIM subscription id, or a key fingerprint (`fp_…`, printed by
//! `chargeback fingerprint KEY`). It is applied when usage is reported, so
//! fixing the mapping fixes every report, past ones included. Parties without
//! a row are reported under the business unit `unassigned`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

/// The business unit of parties that the mapping does not name.
pub const UNASSIGNED: &str = "unassigned";

/// An application and its business unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Application name.
    pub application: String,
    /// Business unit name.
    pub business_unit: String,
}

/// Party → application and business unit.
#[derive(Debug, Clone, Default)]
pub struct ApplicationMap {
    by_party: HashMap<String, Assignment>,
}

impl ApplicationMap {
    /// Reads a mapping file; a missing file is an empty mapping.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let mut reader = match csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(path) {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) => {
                return Ok(Self::default());
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let headers = reader.headers().with_context(|| format!("reading {}", path.display()))?.clone();
        let expected = ["party", "application", "business_unit"];
        anyhow::ensure!(
            headers.iter().eq(expected.iter().copied()),
            "{}: the header must be party,application,business_unit",
            path.display()
        );
        let mut by_party = HashMap::new();
        for (i, row) in reader.records().enumerate() {
            let row = row.with_context(|| format!("{} line {}", path.display(), i + 2))?;
            let (party, application, business_unit) = (&row[0], &row[1], &row[2]);
            anyhow::ensure!(!party.is_empty(), "{} line {}: empty party", path.display(), i + 2);
            let assignment = Assignment {
                application: if application.is_empty() { party.to_owned() } else { application.to_owned() },
                business_unit: if business_unit.is_empty() { UNASSIGNED.to_owned() } else { business_unit.to_owned() },
            };
            by_party.insert(party.to_owned(), assignment);
        }
        Ok(Self { by_party })
    }

    /// Builds a mapping from rows (party, application, business unit).
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Self {
        let by_party = rows
            .into_iter()
            .map(|(p, a, b)| (p.to_owned(), Assignment { application: a.to_owned(), business_unit: b.to_owned() }))
            .collect();
        Self { by_party }
    }

    /// Writes the mapping as CSV, sorted by party.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut writer = csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
        writer.write_record(["party", "application", "business_unit"])?;
        let mut rows: Vec<_> = self.by_party.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        for (party, a) in rows {
            writer.write_record([party.as_str(), &a.application, &a.business_unit])?;
        }
        writer.flush()?;
        Ok(())
    }

    /// Every party and its assignment, sorted by party.
    pub fn assignments(&self) -> Vec<(&str, &Assignment)> {
        let mut rows: Vec<(&str, &Assignment)> = self.by_party.iter().map(|(p, a)| (p.as_str(), a)).collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        rows
    }

    /// The application of a party (the party itself when unmapped).
    pub fn application<'a>(&'a self, party: &'a str) -> &'a str {
        self.by_party.get(party).map_or(party, |a| a.application.as_str())
    }

    /// The business unit of a party (`unassigned` when unmapped).
    pub fn business_unit(&self, party: &str) -> &str {
        self.by_party.get(party).map_or(UNASSIGNED, |a| a.business_unit.as_str())
    }
}

/// Reads the deployment → model mapping (header `deployment,model`, optional
/// billing columns after them: [`crate::billing::DeploymentCatalogue`]); a
/// missing file is an empty mapping. Used to pick the tokenizer for streamed
/// records whose deployment name hides the model.
pub fn load_deployments(path: &Path) -> anyhow::Result<chargeback_tokenizer::DeploymentModels> {
    Ok(crate::billing::DeploymentCatalogue::load(path)?.models())
}
