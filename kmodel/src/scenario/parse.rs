//! The scenario parser (being written).
use super::ast::Scenario;

/// A scenario that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What was expected (and what was found).
    pub message: String,
}

/// Parse a scenario.
///
/// # Errors
/// The first problem found.
pub fn parse(file: &str, _text: &str) -> Result<Scenario, ParseError> {
    Err(ParseError {
        file: file.into(),
        line: 0,
        column: 0,
        message: "parser pending".into(),
    })
}
