//! The two engines a datastore runs on, behind one small interface, so the
//! datastore's SQL is written once: `?1`-style placeholders (rewritten to
//! `$1` for PostgreSQL), statements both engines accept, parameters and
//! results as a few plain types. A write is one transaction that excludes
//! every other writer (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a
//! transaction-scoped advisory lock), so runs and triage changes from many
//! machines apply one after the other and none is lost; the scans themselves
//! run in parallel, only their recording is serialised.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use postgres::types::{ToSql, Type};
use rusqlite::types::{ToSqlOutput, ValueRef};

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    Bool(bool),
    OptBool(Option<bool>),
}

/// One value of a result row (booleans read as 0/1).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
}

/// One result row. Reading is lenient (the schema is ours): a NULL reads as
/// an empty text or 0 where a value is required.
#[derive(Debug, Clone)]
pub struct Row(Vec<Cell>);

impl Row {
    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }

    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Cell::Text(s)) => Some(s.clone()),
            Some(Cell::Int(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn int(&self, i: usize) -> i64 {
        match self.0.get(i) {
            Some(Cell::Int(n)) => *n,
            Some(Cell::Text(s)) => s.parse().unwrap_or(0),
            _ => 0,
        }
    }

    pub fn opt_bool(&self, i: usize) -> Option<bool> {
        match self.0.get(i) {
            Some(Cell::Int(n)) => Some(*n != 0),
            _ => None,
        }
    }
}

/// Which engine, where the SQL has to differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// An engine's error, classified into a [`DatastoreError`](super::DatastoreError)
/// by the datastore, which knows where it is.
#[derive(Debug)]
pub enum DbError {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

/// An open connection.
pub enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Pg>>),
}

/// A PostgreSQL session and the statements it has prepared.
pub struct Pg {
    pub client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl Pg {
    pub fn new(client: postgres::Client) -> Self {
        Pg {
            client,
            statements: HashMap::new(),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&to_postgres(sql))?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// Every writer of a PostgreSQL datastore takes this transaction-scoped
/// advisory lock ("Cybr" "scan"), as SQLite's `BEGIN IMMEDIATE` takes the
/// write lock.
const PG_WRITE_LOCK: i64 = 0x4379_6272_7363_616e;

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::OptText(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::OptText(None) | Param::OptBool(None) => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(n) => ToSqlOutput::from(n),
            Param::Bool(b) | Param::OptBool(Some(b)) => ToSqlOutput::from(b),
        })
    }
}

fn pg_params<'a>(params: &'a [Param<'a>]) -> Vec<Box<dyn ToSql + Sync + 'a>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + 'a> {
            match *p {
                Param::Text(s) => Box::new(s),
                Param::OptText(s) => Box::new(s),
                Param::Int(n) => Box::new(n),
                Param::Bool(b) => Box::new(b),
                Param::OptBool(b) => Box::new(b),
            }
        })
        .collect()
}

/// `?1` placeholders as PostgreSQL writes them (`$1`). No statement of ours
/// has a `?` anywhere else.
pub fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn sqlite_row(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    let mut cells = Vec::with_capacity(n);
    for i in 0..n {
        cells.push(match r.get_ref(i)? {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(v) => Cell::Int(v),
            ValueRef::Real(v) => Cell::Int(v as i64),
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                Cell::Text(String::from_utf8_lossy(t).into_owned())
            }
        });
    }
    Ok(Row(cells))
}

fn pg_row(r: &postgres::Row) -> Result<Row, postgres::Error> {
    let mut cells = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let t = col.type_();
        let cell = if *t == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Cell::Int)
        } else if *t == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?
                .map(|v| Cell::Int(i64::from(v)))
        } else if *t == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?
                .map(|v| Cell::Int(i64::from(v)))
        } else {
            r.try_get::<_, Option<String>>(i)?.map(Cell::Text)
        };
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(Row(cells))
}

impl Backend {
    pub fn kind(&self) -> Kind {
        match self {
            Backend::Sqlite(_) => Kind::Sqlite,
            Backend::Postgres(_) => Kind::Postgres,
        }
    }

    /// Run a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
        match self {
            Backend::Sqlite(c) => {
                let n = c
                    .prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(params.iter()))?;
                Ok(n as u64)
            }
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let st = pg.statement(sql)?;
                let owned = pg_params(params);
                let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| &**b as _).collect();
                Ok(pg.client.execute(&st, &refs)?)
            }
        }
    }

    /// Run a query; every row.
    pub fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        match self {
            Backend::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let rows = st.query_map(rusqlite::params_from_iter(params.iter()), |r| {
                    sqlite_row(r, n)
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let st = pg.statement(sql)?;
                let owned = pg_params(params);
                let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| &**b as _).collect();
                let rows = pg.client.query(&st, &refs)?;
                Ok(rows.iter().map(pg_row).collect::<Result<_, _>>()?)
            }
        }
    }

    /// The first row of a query, if any.
    pub fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Statements without parameters or results (schema changes).
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Backend::Postgres(pg) => Ok(pg.borrow_mut().client.batch_execute(sql)?),
        }
    }

    /// Run `f` in one writing transaction that excludes every other
    /// writer: committed if it succeeds, rolled back otherwise.
    pub fn write<T>(&self, f: impl FnOnce(&Self) -> Result<T, DbError>) -> Result<T, DbError> {
        match self {
            Backend::Sqlite(_) => self.batch("BEGIN IMMEDIATE")?,
            Backend::Postgres(_) => {
                self.batch("BEGIN")?;
                if let Err(e) = self.execute(
                    "SELECT pg_advisory_xact_lock(?1)",
                    &[Param::Int(PG_WRITE_LOCK)],
                ) {
                    let _ = self.batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        match f(self) {
            Ok(v) => {
                if let Err(e) = self.batch("COMMIT") {
                    let _ = self.batch("ROLLBACK");
                    return Err(e);
                }
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// Connect to PostgreSQL at `url` without TLS (see docs/datastore.md),
/// waiting at most `wait` for the connection and, once connected, for a
/// lock held by another writer.
pub fn connect_postgres(url: &str, wait: Duration) -> Result<Pg, postgres::Error> {
    let mut config: postgres::Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(wait.max(Duration::from_secs(1)));
    }
    if config.get_application_name().is_none() {
        config.application_name("cybrid-scan");
    }
    let mut client = config.connect(postgres::NoTls)?;
    client.batch_execute(&format!(
        "SET lock_timeout = {}; SET client_min_messages = warning",
        wait.as_millis().max(1)
    ))?;
    Ok(Pg::new(client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_and_nothing_else_changes() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ?1 AND c = ?12 OR d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 OR d = '?'"
        );
    }
}
