//! The HTML page.

use super::super::Statement;

pub(super) fn page(_statement: &Statement) -> String {
    String::new()
}
