//! The `filter` expression of a dataset: its grammar, parser, type checks and evaluation.
//!
//! ```text
//! filter     := or
//! or         := and ( "or" and )*
//! and        := unary ( "and" unary )*
//! unary      := "not" unary | "(" or ")" | comparison
//! comparison := column ( op literal
//!                      | "is" [ "not" ] "null"
//!                      | [ "not" ] "in" "(" literal ( "," literal )* ")" )
//! op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! column     := name ( "." name )*  |  "any text"  |  `any text`
//! literal    := 'text' ('' inside is one quote) | number | true | false
//! ```
//!
//! Keywords are case-insensitive. Comparisons follow SQL: a missing or null value makes every
//! comparison unknown except `is null`, `not` of unknown is unknown, and only rows for which
//! the whole filter is true are kept, so `x != 'a'` drops rows where `x` is empty (write
//! `x != 'a' or x is null` to keep them). Text compares by its bytes, case-sensitively;
//! numbers compare by value; when a text literal reads as a date or time
//! (`'2024-01-31'`, `'2024-01-31T09:00:00Z'`), values that read as one compare as instants,
//! so every spelling of the same moment is equal.

use std::cmp::Ordering;

use ashflow_core::time::parse_timestamp;
use ashflow_core::{DataType, Record, Schema};
use serde_json::{Number, Value};

use crate::datasets::columns;

/// A parsed filter, not yet checked against a schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    expression: Expression<ColumnToken>,
}

/// A filter whose columns are resolved to paths of a schema, ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResolvedFilter {
    expression: Expression<Vec<String>>,
}

/// A problem in a filter: the byte offset in the filter's text and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterError {
    /// Byte offset in the filter text.
    pub(crate) position: usize,
    /// What is wrong and what to write instead.
    pub(crate) message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Expression<C> {
    And(Box<Expression<C>>, Box<Expression<C>>),
    Or(Box<Expression<C>>, Box<Expression<C>>),
    Not(Box<Expression<C>>),
    Compare { column: C, operator: Operator, literal: Literal },
    IsNull { column: C, negated: bool },
    In { column: C, literals: Vec<Literal>, negated: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ColumnToken {
    name: String,
    position: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// A literal of the filter. Text that reads as a date or time carries its instant, parsed once.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text { text: String, instant_ms: Option<i64>, position: usize },
    Number { number: Number, position: usize },
    Boolean { value: bool, position: usize },
}

impl Literal {
    fn position(&self) -> usize {
        match self {
            Literal::Text { position, .. }
            | Literal::Number { position, .. }
            | Literal::Boolean { position, .. } => *position,
        }
    }
}

impl Filter {
    /// Parses a filter expression; see the module documentation for the grammar.
    pub(crate) fn parse(text: &str) -> Result<Filter, FilterError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens: &tokens, next: 0, end: text.len() };
        let expression = parser.or()?;
        if let Some(token) = parser.peek() {
            return Err(FilterError {
                position: token.position,
                message: format!(
                    "unexpected {} after a complete condition; join conditions with `and` or `or`",
                    token.kind.describe()
                ),
            });
        }
        Ok(Filter { expression })
    }

    /// Resolves every column against `schema` and checks each literal against its column's
    /// type. With `open` set (a schema that gains columns at run time, such as custom field
    /// columns of a pivot), unknown columns are not problems, and no resolved filter is
    /// returned when there are any.
    pub(crate) fn resolve(
        &self,
        schema: &Schema,
        open: bool,
    ) -> (Option<ResolvedFilter>, Vec<FilterError>) {
        let mut problems = Vec::new();
        let mut complete = true;
        let expression = resolve(&self.expression, schema, open, &mut problems, &mut complete);
        let resolved = (problems.is_empty() && complete)
            .then(|| expression.map(|expression| ResolvedFilter { expression }))
            .flatten();
        (resolved, problems)
    }
}

impl ResolvedFilter {
    /// True when the filter holds for `record`; unknown (a null compared) counts as false.
    pub(crate) fn matches(&self, record: &Record) -> bool {
        evaluate(&self.expression, record) == Some(true)
    }
}

fn resolve(
    expression: &Expression<ColumnToken>,
    schema: &Schema,
    open: bool,
    problems: &mut Vec<FilterError>,
    complete: &mut bool,
) -> Option<Expression<Vec<String>>> {
    let mut both = |a: &Expression<ColumnToken>, b: &Expression<ColumnToken>| {
        let a = resolve(a, schema, open, problems, complete);
        let b = resolve(b, schema, open, problems, complete);
        Some((Box::new(a?), Box::new(b?)))
    };
    match expression {
        Expression::And(a, b) => both(a, b).map(|(a, b)| Expression::And(a, b)),
        Expression::Or(a, b) => both(a, b).map(|(a, b)| Expression::Or(a, b)),
        Expression::Not(inner) => {
            resolve(inner, schema, open, problems, complete).map(|e| Expression::Not(Box::new(e)))
        }
        Expression::Compare { column, operator, literal } => {
            let path = resolve_column(column, schema, open, problems, complete)?;
            check_literal(column, &path.1, literal, problems);
            if matches!(path.1, DataType::Object(_) | DataType::Array(_)) {
                problems.push(not_comparable(column, &path.1));
            }
            Some(Expression::Compare {
                column: path.0,
                operator: *operator,
                literal: literal.clone(),
            })
        }
        Expression::IsNull { column, negated } => {
            let path = resolve_column(column, schema, open, problems, complete)?;
            Some(Expression::IsNull { column: path.0, negated: *negated })
        }
        Expression::In { column, literals, negated } => {
            let path = resolve_column(column, schema, open, problems, complete)?;
            if matches!(path.1, DataType::Object(_) | DataType::Array(_)) {
                problems.push(not_comparable(column, &path.1));
            }
            for literal in literals {
                check_literal(column, &path.1, literal, problems);
            }
            Some(Expression::In { column: path.0, literals: literals.clone(), negated: *negated })
        }
    }
}

fn resolve_column(
    column: &ColumnToken,
    schema: &Schema,
    open: bool,
    problems: &mut Vec<FilterError>,
    complete: &mut bool,
) -> Option<(Vec<String>, DataType)> {
    match columns::resolve(&schema.fields, &column.name) {
        Some((path, field)) => Some((path, field.data_type.clone())),
        None => {
            *complete = false;
            if !open {
                problems.push(FilterError {
                    position: column.position,
                    message: columns::unknown_column_message(&column.name, schema),
                });
            }
            None
        }
    }
}

fn not_comparable(column: &ColumnToken, data_type: &DataType) -> FilterError {
    FilterError {
        position: column.position,
        message: format!(
            "`{}` holds {} values, which compare only with `is null` and `is not null`",
            column.name,
            data_type.name()
        ),
    }
}

/// Reports a literal that can never equal a value of the column's type, with the spelling
/// that would.
fn check_literal(
    column: &ColumnToken,
    data_type: &DataType,
    literal: &Literal,
    problems: &mut Vec<FilterError>,
) {
    let name = &column.name;
    let message = match (data_type, literal) {
        (DataType::String, Literal::Text { .. })
        | (DataType::Integer | DataType::Number, Literal::Number { .. })
        | (DataType::Boolean, Literal::Boolean { .. })
        | (DataType::Json | DataType::Object(_) | DataType::Array(_), _) => return,
        (DataType::Timestamp | DataType::Date, Literal::Text { instant_ms: Some(_), .. }) => {
            return;
        }
        (DataType::Timestamp | DataType::Date, Literal::Text { text, .. }) => format!(
            "`{name}` holds dates and times, and '{text}' is not one; write it as '2024-01-31' \
             or '2024-01-31T09:00:00Z'"
        ),
        (DataType::String, _) => {
            format!("`{name}` holds text; put the value in single quotes, as in {name} = 'value'")
        }
        (DataType::Integer | DataType::Number, _) => {
            format!("`{name}` holds numbers; write the value without quotes, as in {name} > 3")
        }
        (DataType::Boolean, _) => format!("`{name}` holds true or false; compare it with true"),
        (DataType::Timestamp | DataType::Date, _) => format!(
            "`{name}` holds dates and times; compare it with a quoted date such as '2024-01-31'"
        ),
    };
    problems.push(FilterError { position: literal.position(), message });
}

fn evaluate(expression: &Expression<Vec<String>>, record: &Record) -> Option<bool> {
    match expression {
        // SQL's three-valued logic: false wins `and`, true wins `or`, otherwise unknown.
        Expression::And(a, b) => match (evaluate(a, record), evaluate(b, record)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expression::Or(a, b) => match (evaluate(a, record), evaluate(b, record)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expression::Not(inner) => evaluate(inner, record).map(|value| !value),
        Expression::Compare { column, operator, literal } => {
            let ordering = compare_to_literal(columns::lookup(record, column)?, literal)?;
            Some(match operator {
                Operator::Equal => ordering == Ordering::Equal,
                Operator::NotEqual => ordering != Ordering::Equal,
                Operator::Less => ordering == Ordering::Less,
                Operator::LessOrEqual => ordering != Ordering::Greater,
                Operator::Greater => ordering == Ordering::Greater,
                Operator::GreaterOrEqual => ordering != Ordering::Less,
            })
        }
        Expression::IsNull { column, negated } => {
            let is_null = columns::lookup(record, column).is_none_or(Value::is_null);
            Some(is_null != *negated)
        }
        Expression::In { column, literals, negated } => {
            let value = columns::lookup(record, column).filter(|value| !value.is_null())?;
            let mut unknown = false;
            for literal in literals {
                match compare_to_literal(value, literal) {
                    Some(Ordering::Equal) => return Some(!*negated),
                    Some(_) => {}
                    None => unknown = true,
                }
            }
            if unknown { None } else { Some(*negated) }
        }
    }
}

/// How `value` orders against `literal`; `None` when they cannot be compared (a null, or a
/// value of another type than the literal).
fn compare_to_literal(value: &Value, literal: &Literal) -> Option<Ordering> {
    match (value, literal) {
        (Value::String(text), Literal::Text { text: wanted, instant_ms, .. }) => {
            match (instant_ms, parse_timestamp(text)) {
                (Some(wanted_ms), Some(instant)) => Some(instant.timestamp_millis().cmp(wanted_ms)),
                _ => Some(text.as_str().cmp(wanted.as_str())),
            }
        }
        (Value::Number(number), Literal::Number { number: wanted, .. }) => {
            compare_numbers(number, wanted)
        }
        (Value::Bool(value), Literal::Boolean { value: wanted, .. }) => Some(value.cmp(wanted)),
        _ => None,
    }
}

/// Numbers by value: exactly as integers when both are, as floats otherwise.
pub(crate) fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (a.as_i64(), b.as_i64()) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

// Tokens ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Name(String),
    QuotedName(String),
    Text(String),
    Number(Number),
    Operator(Operator),
    Open,
    Close,
    Comma,
}

impl TokenKind {
    fn describe(&self) -> String {
        match self {
            TokenKind::Name(name) => format!("`{name}`"),
            TokenKind::QuotedName(name) => format!("\"{name}\""),
            TokenKind::Text(text) => format!("'{text}'"),
            TokenKind::Number(number) => format!("`{number}`"),
            TokenKind::Operator(operator) => format!("`{}`", operator_text(*operator)),
            TokenKind::Open => "`(`".into(),
            TokenKind::Close => "`)`".into(),
            TokenKind::Comma => "`,`".into(),
        }
    }

    /// The keyword this token spells, lowercased, when it is an unquoted name.
    fn keyword(&self) -> Option<String> {
        match self {
            TokenKind::Name(name) => Some(name.to_ascii_lowercase()),
            _ => None,
        }
    }
}

fn operator_text(operator: Operator) -> &'static str {
    match operator {
        Operator::Equal => "=",
        Operator::NotEqual => "!=",
        Operator::Less => "<",
        Operator::LessOrEqual => "<=",
        Operator::Greater => ">",
        Operator::GreaterOrEqual => ">=",
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: TokenKind,
    position: usize,
}

const KEYWORDS: [&str; 8] = ["and", "or", "not", "is", "null", "in", "true", "false"];

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        let byte = bytes[at];
        let kind = match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {
                at += 1;
                continue;
            }
            b'(' => {
                at += 1;
                TokenKind::Open
            }
            b')' => {
                at += 1;
                TokenKind::Close
            }
            b',' => {
                at += 1;
                TokenKind::Comma
            }
            b'=' if bytes.get(at + 1) == Some(&b'=') => {
                return Err(FilterError {
                    position: start,
                    message: "`==` is not an operator here; write `=`".into(),
                });
            }
            b'=' => {
                at += 1;
                TokenKind::Operator(Operator::Equal)
            }
            b'!' if bytes.get(at + 1) == Some(&b'=') => {
                at += 2;
                TokenKind::Operator(Operator::NotEqual)
            }
            b'<' | b'>' => {
                let next = bytes.get(at + 1).copied();
                let (operator, width) = match (byte, next) {
                    (b'<', Some(b'=')) => (Operator::LessOrEqual, 2),
                    (b'<', Some(b'>')) => (Operator::NotEqual, 2),
                    (b'<', _) => (Operator::Less, 1),
                    (_, Some(b'=')) => (Operator::GreaterOrEqual, 2),
                    _ => (Operator::Greater, 1),
                };
                at += width;
                TokenKind::Operator(operator)
            }
            b'\'' => {
                let (value, end) = quoted(text, at, '\'', "text")?;
                at = end;
                TokenKind::Text(value)
            }
            b'"' | b'`' => {
                let (value, end) = quoted(text, at, char::from(byte), "column name")?;
                at = end;
                TokenKind::QuotedName(value)
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(bytes, at);
                let literal = &text[start..end];
                let number = serde_json::from_str::<Number>(literal).map_err(|_| FilterError {
                    position: start,
                    message: format!("`{literal}` is not a number"),
                })?;
                at = end;
                TokenKind::Number(number)
            }
            byte if byte.is_ascii_alphabetic() || byte == b'_' => {
                let end = text[at..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$')))
                    .map_or(text.len(), |offset| at + offset);
                at = end;
                TokenKind::Name(text[start..end].to_string())
            }
            _ => {
                let character = text[at..].chars().next().unwrap_or('?');
                return Err(FilterError {
                    position: start,
                    message: format!(
                        "unexpected `{character}`; quote text with single quotes ('Open') and \
                         column names with spaces with double quotes (\"Years of experience\")"
                    ),
                });
            }
        };
        tokens.push(Token { kind, position: start });
    }
    Ok(tokens)
}

/// The text between the quote at `start` and its closing quote (a doubled quote stands for one
/// quote), and the offset after the closing quote.
fn quoted(
    text: &str,
    start: usize,
    quote: char,
    what: &str,
) -> Result<(String, usize), FilterError> {
    let mut value = String::new();
    let mut chars = text[start + 1..].char_indices().peekable();
    while let Some((offset, character)) = chars.next() {
        if character == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                chars.next();
                value.push(quote);
                continue;
            }
            return Ok((value, start + 1 + offset + 1));
        }
        value.push(character);
    }
    Err(FilterError { position: start, message: format!("this {what} has no closing {quote}") })
}

fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < bytes.len()
        && (bytes[at].is_ascii_digit()
            || bytes[at] == b'.'
            || matches!(bytes[at], b'e' | b'E')
            || (matches!(bytes[at], b'+' | b'-') && matches!(bytes[at - 1], b'e' | b'E')))
    {
        at += 1;
    }
    at
}

// Parser ---------------------------------------------------------------------------------------

struct Parser<'t> {
    tokens: &'t [Token],
    next: usize,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn peek_keyword(&self) -> Option<String> {
        self.peek().and_then(|token| token.kind.keyword())
    }

    fn take_keyword(&mut self, keyword: &str) -> bool {
        if self.peek_keyword().as_deref() == Some(keyword) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn position(&self) -> usize {
        self.peek().map_or(self.end, |token| token.position)
    }

    fn found(&self) -> String {
        self.peek().map_or_else(|| "the end of the filter".into(), |token| token.kind.describe())
    }

    fn or(&mut self) -> Result<Expression<ColumnToken>, FilterError> {
        let mut left = self.and()?;
        while self.take_keyword("or") {
            left = Expression::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expression<ColumnToken>, FilterError> {
        let mut left = self.unary()?;
        while self.take_keyword("and") {
            left = Expression::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expression<ColumnToken>, FilterError> {
        if self.take_keyword("not") {
            return Ok(Expression::Not(Box::new(self.unary()?)));
        }
        if self.peek().is_some_and(|token| token.kind == TokenKind::Open) {
            let open = self.position();
            self.next += 1;
            let inner = self.or()?;
            if self.peek().is_some_and(|token| token.kind == TokenKind::Close) {
                self.next += 1;
                return Ok(inner);
            }
            return Err(FilterError {
                position: self.position(),
                message: format!(
                    "expected `)` to close the `(` at character {}, found {}",
                    open + 1,
                    self.found()
                ),
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expression<ColumnToken>, FilterError> {
        let column = self.column()?;
        let Some(token) = self.peek().cloned() else {
            return Err(self.expected_operator(&column));
        };
        match (&token.kind, token.kind.keyword().as_deref()) {
            (TokenKind::Operator(operator), _) => {
                self.next += 1;
                let literal = self.literal()?;
                Ok(Expression::Compare { column, operator: *operator, literal })
            }
            (_, Some("is")) => {
                self.next += 1;
                let negated = self.take_keyword("not");
                if self.take_keyword("null") {
                    Ok(Expression::IsNull { column, negated })
                } else {
                    Err(FilterError {
                        position: self.position(),
                        message: format!(
                            "expected `null` after `is{}`, found {}",
                            if negated { " not" } else { "" },
                            self.found()
                        ),
                    })
                }
            }
            (_, Some("in")) => {
                self.next += 1;
                self.list(column, false)
            }
            (_, Some("not"))
                if self.tokens.get(self.next + 1).and_then(|t| t.kind.keyword())
                    == Some("in".into()) =>
            {
                self.next += 2;
                self.list(column, true)
            }
            _ => Err(self.expected_operator(&column)),
        }
    }

    fn expected_operator(&self, column: &ColumnToken) -> FilterError {
        FilterError {
            position: self.position(),
            message: format!(
                "expected a comparison after `{}` (=, !=, <, <=, >, >=, is null, is not null, \
                 in (...)), found {}",
                column.name,
                self.found()
            ),
        }
    }

    fn column(&mut self) -> Result<ColumnToken, FilterError> {
        let token = self.peek().cloned();
        match token.as_ref().map(|token| &token.kind) {
            Some(TokenKind::Name(name))
                if !KEYWORDS.contains(&name.to_ascii_lowercase().as_str()) =>
            {
                self.next += 1;
                Ok(ColumnToken {
                    name: name.clone(),
                    position: self.tokens[self.next - 1].position,
                })
            }
            Some(TokenKind::QuotedName(name)) => {
                self.next += 1;
                Ok(ColumnToken {
                    name: name.clone(),
                    position: self.tokens[self.next - 1].position,
                })
            }
            _ => Err(FilterError {
                position: self.position(),
                message: format!(
                    "expected a column name, such as status or \"Years of experience\", found {}",
                    self.found()
                ),
            }),
        }
    }

    fn literal(&mut self) -> Result<Literal, FilterError> {
        let position = self.position();
        let token = self.peek().cloned();
        let literal = match token.as_ref().map(|token| &token.kind) {
            Some(TokenKind::Text(text)) => Literal::Text {
                text: text.clone(),
                instant_ms: parse_timestamp(text).map(|instant| instant.timestamp_millis()),
                position,
            },
            Some(TokenKind::Number(number)) => Literal::Number { number: number.clone(), position },
            Some(kind) if kind.keyword().as_deref() == Some("true") => {
                Literal::Boolean { value: true, position }
            }
            Some(kind) if kind.keyword().as_deref() == Some("false") => {
                Literal::Boolean { value: false, position }
            }
            Some(kind) if kind.keyword().as_deref() == Some("null") => {
                return Err(FilterError {
                    position,
                    message: "compare with null using `is null` or `is not null`".into(),
                });
            }
            Some(TokenKind::Name(name)) => {
                return Err(FilterError {
                    position,
                    message: format!(
                        "expected a value, found the name `{name}`; put text in single quotes: \
                         '{name}'"
                    ),
                });
            }
            _ => {
                return Err(FilterError {
                    position,
                    message: format!(
                        "expected a value such as 'Open', 42 or true, found {}",
                        self.found()
                    ),
                });
            }
        };
        self.next += 1;
        Ok(literal)
    }

    fn list(
        &mut self,
        column: ColumnToken,
        negated: bool,
    ) -> Result<Expression<ColumnToken>, FilterError> {
        if self.peek().map(|token| &token.kind) != Some(&TokenKind::Open) {
            return Err(FilterError {
                position: self.position(),
                message: format!(
                    "expected `(` and a list of values after `in`, found {}",
                    self.found()
                ),
            });
        }
        self.next += 1;
        let mut literals = vec![self.literal()?];
        loop {
            match self.peek().map(|token| &token.kind) {
                Some(TokenKind::Comma) => {
                    self.next += 1;
                    literals.push(self.literal()?);
                }
                Some(TokenKind::Close) => {
                    self.next += 1;
                    return Ok(Expression::In { column, literals, negated });
                }
                _ => {
                    return Err(FilterError {
                        position: self.position(),
                        message: format!(
                            "expected `,` or `)` in the list of values, found {}",
                            self.found()
                        ),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ashflow_core::Field;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::String, "Id."),
            Field::new("status", DataType::String, "Status."),
            Field::new("score", DataType::Integer, "Score."),
            Field::new("remote", DataType::Boolean, "Remote."),
            Field::new("createdAt", DataType::Timestamp, "Created."),
            Field::new(
                "department",
                DataType::Object(vec![Field::new("name", DataType::String, "Name.")]),
                "Department.",
            ),
            Field::new("Years of experience", DataType::Number, "Custom."),
        ])
    }

    fn record(value: Value) -> Record {
        value.as_object().cloned().unwrap()
    }

    fn rows() -> Vec<Record> {
        vec![
            record(json!({"id": "a", "status": "Open", "score": 5, "remote": true,
                "createdAt": "2024-01-10T08:00:00Z", "department": {"name": "Sales"},
                "Years of experience": 3.5})),
            record(json!({"id": "b", "status": "Closed", "score": 1, "remote": false,
                "createdAt": "2024-02-01T00:00:00.000Z", "department": {"name": "Eng"}})),
            record(json!({"id": "c", "status": "Open", "score": null,
                "createdAt": "2023-12-31T23:59:59Z", "department": null})),
            record(json!({"id": "d", "status": "Draft", "score": 9, "remote": true})),
        ]
    }

    /// The ids of the rows the filter keeps.
    fn kept(filter: &str) -> Vec<String> {
        let parsed = Filter::parse(filter).unwrap_or_else(|error| panic!("{filter}: {error:?}"));
        let (resolved, problems) = parsed.resolve(&schema(), false);
        assert!(problems.is_empty(), "{problems:?}");
        let resolved = resolved.expect("resolved");
        rows()
            .iter()
            .filter(|row| resolved.matches(row))
            .map(|row| row["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn error(filter: &str) -> FilterError {
        match Filter::parse(filter) {
            Err(error) => error,
            Ok(parsed) => parsed.resolve(&schema(), false).1.into_iter().next().expect("a problem"),
        }
    }

    #[test]
    fn comparisons_combine_with_and_or_not_and_parentheses() {
        assert_eq!(kept("status = 'Open'"), ["a", "c"]);
        assert_eq!(kept("status = 'Open' and score > 2"), ["a"]);
        assert_eq!(kept("status = 'Draft' or score <= 1"), ["b", "d"]);
        assert_eq!(kept("not (status = 'Open') and remote = true"), ["d"]);
        assert_eq!(kept("(status = 'Open' or status = 'Draft') and score >= 5"), ["a", "d"]);
        assert_eq!(kept("status <> 'Open' AND NOT remote = false"), ["d"]);
        assert_eq!(kept("\"Years of experience\" >= 3"), ["a"]);
    }

    #[test]
    fn nulls_follow_sql_three_valued_logic() {
        // c has a null score and d none at all: comparisons with them are unknown.
        assert_eq!(kept("score != 5"), ["b", "d"]);
        assert_eq!(kept("not (score = 5)"), ["b", "d"]);
        assert_eq!(kept("score is null"), ["c"]);
        assert_eq!(kept("department.name is null"), ["c", "d"]);
        assert_eq!(kept("department.name != 'Sales' or department.name is null"), ["b", "c", "d"]);
        assert_eq!(kept("score is not null and remote is null"), Vec::<String>::new());
        assert_eq!(kept("remote is null"), ["c"]);
    }

    #[test]
    fn in_lists_match_any_value_and_not_in_keeps_none_of_them() {
        assert_eq!(kept("status in ('Open', 'Draft')"), ["a", "c", "d"]);
        assert_eq!(kept("status not in ('Open', 'Draft')"), ["b"]);
        assert_eq!(kept("score in (1, 9)"), ["b", "d"]);
        assert_eq!(kept("score not in (1)"), ["a", "d"], "a null score is unknown, not kept");
    }

    #[test]
    fn times_compare_as_instants_whatever_their_spelling() {
        assert_eq!(kept("createdAt >= '2024-01-01'"), ["a", "b"]);
        assert_eq!(kept("createdAt = '2024-02-01T01:00:00+01:00'"), ["b"]);
        assert_eq!(kept("createdAt < '2024-01-10T08:00:00.001Z'"), ["a", "c"]);
    }

    #[test]
    fn syntax_errors_point_at_the_character() {
        let problem = error("status == 'Open'");
        assert_eq!(problem.position, 7);
        assert!(problem.message.contains("write `=`"), "{}", problem.message);

        let problem = error("status = 'Open' and (score > 1");
        assert_eq!(problem.position, 30);
        assert!(problem.message.starts_with("expected `)`"), "{}", problem.message);

        let problem = error("status = Open");
        assert_eq!(problem.position, 9);
        assert!(problem.message.contains("'Open'"), "{}", problem.message);

        let problem = error("status = 'Open");
        assert_eq!(problem.position, 9);
        assert_eq!(error("status").position, 6);
        assert!(error("status = 'a' score = 1").message.contains("`and` or `or`"));
        assert!(error("score = null").message.contains("is null"));
        assert_eq!(error("status in 'a'").position, 10);
    }

    #[test]
    fn columns_and_literals_are_checked_against_the_schema() {
        let problem = error("stauts = 'Open'");
        assert_eq!(problem.position, 0);
        assert!(problem.message.contains("did you mean `status`?"), "{}", problem.message);
        assert!(error("score = '5'").message.contains("without quotes"));
        assert!(error("status = 5").message.contains("single quotes"));
        assert!(error("createdAt > 'last week'").message.contains("'2024-01-31'"));
        assert!(error("remote = 'yes'").message.contains("true or false"));
        assert!(error("department = 'x'").message.contains("is null"));
    }

    #[test]
    fn an_open_schema_accepts_unknown_columns_until_run_time() {
        let parsed = Filter::parse("\"Salary band.minValue\" > 3").unwrap();
        let (resolved, problems) = parsed.resolve(&schema(), true);
        assert!(problems.is_empty());
        assert!(resolved.is_none());
    }
}
