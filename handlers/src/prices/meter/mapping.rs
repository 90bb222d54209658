//! The user's meter mapping file: what a meter is, by its id or name, for
//! the meters the parser cannot read (or reads differently from what the
//! user knows). A row wins over the parser.
//!
//! ```csv
//! meter,model,deployment_type,token_kind,service_tier,version
//! 54 mini Inp Flex Gl 1M Tokens,gpt-5.4-mini,global,input,flex,
//! 0f3c1e8e-7d1a-4b9e-9c55-1a2b3c4d5e6f,text-embedding-3-large,regional,input,,
//! Provisioned Managed Unit,,regional,ptu-hour,,
//! gpt-4o-mini-0718-Inp-glbl Tokens,,,ignore,,
//! ```
//!
//! `meter` is a meter id or a meter name (compared ignoring case and runs of
//! spaces); `token_kind` is one of the [`MeterKind`] names or `ignore`; the
//! model is empty for `ptu-hour`; `service_tier` and `version` are optional.

use std::collections::HashMap;
use std::path::Path;

use super::{Context, Meter, MeterKind, Scope, ServiceTier};

/// Why a mapping file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is malformed.
    #[error("{origin} line {line}: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// 1-based line number (1 is the header).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Meter id or name → what it is (`None`: ignore it).
#[derive(Debug, Clone, Default)]
pub struct MeterMapping {
    rows: HashMap<String, Option<Meter>>,
}

const COLUMNS: [&str; 6] = ["meter", "model", "deployment_type", "token_kind", "service_tier", "version"];

fn key(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase()
}

impl MeterMapping {
    /// Reads a mapping file.
    pub fn load(path: &Path) -> Result<Self, MappingError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| MappingError::Io { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses mapping CSV text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, MappingError> {
        let invalid = |line: usize, message: String| MappingError::Invalid { origin: origin.to_owned(), line, message };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .flexible(true)
            .from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| invalid(1, e.to_string()))?.clone();
        let mut index = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.to_ascii_lowercase();
            if !COLUMNS.contains(&h.as_str()) {
                return Err(invalid(1, format!("unknown column {h:?}; the columns are {}", COLUMNS.join(", "))));
            }
            index.insert(h, i);
        }
        for required in ["meter", "model", "deployment_type", "token_kind"] {
            if !index.contains_key(required) {
                return Err(invalid(1, format!("missing column {required}")));
            }
        }
        let mut rows = HashMap::new();
        for row in reader.records() {
            let row = row.map_err(|e| invalid(e.position().map_or(0, |p| p.line() as usize), e.to_string()))?;
            let line = row.position().map_or(0, |p| p.line() as usize);
            let field = |name: &str| index.get(name).and_then(|i| row.get(*i)).unwrap_or("");
            let meter = field("meter");
            if meter.is_empty() {
                return Err(invalid(line, "empty meter".to_owned()));
            }
            let value = parse_row(&field).map_err(|m| invalid(line, m))?;
            if rows.insert(key(meter), value).is_some() {
                return Err(invalid(line, format!("meter {meter:?} is mapped twice")));
            }
        }
        Ok(Self { rows })
    }

    /// The row for a meter id or, failing that, its name: `Some(None)` when
    /// the file says to ignore it, `None` when the file does not name it.
    pub fn lookup(&self, meter_id: &str, meter_name: &str) -> Option<Option<&Meter>> {
        [meter_id, meter_name]
            .iter()
            .filter(|s| !s.trim().is_empty())
            .find_map(|s| self.rows.get(&key(s)))
            .map(Option::as_ref)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the file has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

fn parse_row<'a>(field: &dyn Fn(&str) -> &'a str) -> Result<Option<Meter>, String> {
    let kind = field("token_kind");
    if kind.eq_ignore_ascii_case("ignore") {
        return Ok(None);
    }
    let kind = MeterKind::parse(kind).ok_or_else(|| {
        let names: Vec<&str> = MeterKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("token_kind {kind:?}: use {} or ignore", names.join(", "))
    })?;
    let scope = Scope::parse(field("deployment_type"))
        .ok_or_else(|| format!("deployment_type {:?}: use global, data-zone or regional", field("deployment_type")))?;
    let tier = ServiceTier::parse(field("service_tier")).ok_or_else(|| {
        format!("service_tier {:?}: use priority, flex, batch or leave it empty", field("service_tier"))
    })?;
    let model = field("model");
    let version = field("version");
    let (model, version) = match (kind, model) {
        (MeterKind::ProvisionedUnit, "") => (None, None),
        (MeterKind::ProvisionedUnit, _) => return Err("a ptu-hour row names no model".to_owned()),
        (_, "") => return Err("empty model".to_owned()),
        (_, m) => (Some(m.to_ascii_lowercase()), (!version.is_empty()).then(|| version.to_owned())),
    };
    Ok(Some(Meter { model, version, scope, kind, tier, context: Context::Standard }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "meter,model,deployment_type,token_kind,service_tier,version\n\
        54 mini Inp Flex Gl 1M Tokens,gpt-5.4-mini,global,input,flex,\n\
        0F3C1E8E-7D1A-4B9E-9C55-1A2B3C4D5E6F,text-embedding-3-large,regional,input,,\n\
        Provisioned Managed Unit,,regional,ptu-hour,,\n\
        gpt-4o-mini-0718-Inp-glbl Tokens,,,ignore,,\n";

    #[test]
    fn rows_are_found_by_id_or_by_name_ignoring_case_and_spaces() {
        let mapping = MeterMapping::parse(FILE, "meters.csv").unwrap();
        assert_eq!(mapping.len(), 4);
        let flex = mapping.lookup("", "54  MINI Inp Flex Gl 1M Tokens").unwrap().unwrap();
        assert_eq!(
            (flex.model.as_deref(), flex.tier, flex.kind),
            (Some("gpt-5.4-mini"), ServiceTier::Flex, MeterKind::Input)
        );
        let by_id = mapping.lookup("0f3c1e8e-7d1a-4b9e-9c55-1a2b3c4d5e6f", "anything").unwrap().unwrap();
        assert_eq!(by_id.scope, Scope::Regional);
        let ptu = mapping.lookup("", "Provisioned Managed Unit").unwrap().unwrap();
        assert_eq!((ptu.model.as_ref(), ptu.kind), (None, MeterKind::ProvisionedUnit));
        assert_eq!(mapping.lookup("x", "gpt-4o-mini-0718-Inp-glbl Tokens"), Some(None));
        assert_eq!(mapping.lookup("x", "not mapped"), None);
    }

    #[test]
    fn mistakes_name_their_line() {
        for (row, expected) in [
            ("m,gpt-4o,global,prompt,,", "token_kind \"prompt\""),
            ("m,gpt-4o,standard,input,,", "deployment_type"),
            ("m,gpt-4o,global,input,fast,", "service_tier"),
            ("m,,global,input,,", "empty model"),
            ("m,gpt-4o,global,ptu-hour,,", "names no model"),
        ] {
            let text = format!("meter,model,deployment_type,token_kind,service_tier,version\n{row}\n");
            let error = MeterMapping::parse(&text, "meters.csv").unwrap_err().to_string();
            assert!(error.contains(expected) && error.contains("line 2"), "{row}: {error}");
        }
        let twice = "meter,model,deployment_type,token_kind\na,m,global,input\nA,m,global,output\n";
        assert!(MeterMapping::parse(twice, "f").unwrap_err().to_string().contains("mapped twice"));
        assert!(MeterMapping::parse("meter,colour\n", "f").unwrap_err().to_string().contains("unknown column"));
    }
}
