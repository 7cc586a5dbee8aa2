//! A table read as typed rows: one row by a column's value, or a page and its total — the one
//! list query behind every HAL collection.

use sqlx::{Any, Encode, FromRow, Row, Type, any::AnyRow};

use super::Db;

/// A table's rows (`SELECT columns FROM table`), in `order_by` order, optionally only those
/// whose column equals a value. Declared once per table:
/// `const BOOKINGS: Table = Table::new("conference", COLUMNS, "conference_id");`
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    pub table: &'a str,
    pub columns: &'a str,
    pub order_by: &'a str,
    /// Only the rows whose `column` equals the value (none: every row).
    pub filter: Option<(&'a str, Match<'a>)>,
}

/// A page of typed rows and how many there are in all.
pub type Paged<T> = Result<(Vec<T>, i64), sqlx::Error>;

/// A value to filter on.
#[derive(Debug, Clone, Copy)]
pub enum Match<'a> {
    Text(&'a str),
    Id(i64),
}

impl<'a> Table<'a> {
    pub const fn new(table: &'a str, columns: &'a str, order_by: &'a str) -> Self {
        Table {
            table,
            columns,
            order_by,
            filter: None,
        }
    }

    /// Only the rows whose `column` equals `value`; every row when `value` is `None`.
    pub fn only(self, column: &'a str, value: Option<Match<'a>>) -> Self {
        Table {
            filter: value.map(|v| (column, v)),
            ..self
        }
    }

    /// Only the rows of customer `owner` (column `customer`); every row when `None`.
    pub fn of_customer(self, owner: Option<&'a str>) -> Self {
        self.only("customer", owner.map(Match::Text))
    }

    /// The row whose `column` is `value` (a key: at most one).
    pub async fn find<'c, T, V>(
        &self,
        on: impl sqlx::Executor<'c, Database = Any>,
        column: &str,
        value: V,
    ) -> Result<Option<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        V: for<'q> Encode<'q, Any> + Type<Any> + Send,
    {
        let select = format!(
            "SELECT {} FROM {} WHERE {column} = $1",
            self.columns, self.table
        );
        sqlx::query_as(&select).bind(value).fetch_optional(on).await
    }

    /// Page `limit`/`offset` of rows that read themselves, and the total.
    pub async fn page<T>(&self, db: &Db, limit: i64, offset: i64) -> Paged<T>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        self.page_read(db, limit, offset, |row| T::from_row(row))
            .await
    }

    /// Page `limit`/`offset`, each row read by `read`, and the total.
    pub async fn page_read<T>(
        &self,
        db: &Db,
        limit: i64,
        offset: i64,
        read: impl Fn(&AnyRow) -> Result<T, sqlx::Error>,
    ) -> Paged<T> {
        let Table {
            table,
            columns,
            order_by,
            filter,
        } = self;
        let (clause, first) = match filter {
            Some((column, _)) => (format!("WHERE {column} = $1"), 2),
            None => (String::new(), 1),
        };
        let select = format!(
            "SELECT {columns} FROM {table} {clause} ORDER BY {order_by} LIMIT ${first} OFFSET ${}",
            first + 1
        );
        let count = format!("SELECT COUNT(*) AS n FROM {table} {clause}");
        let mut rows = sqlx::query(&select);
        let mut total = sqlx::query(&count);
        match filter {
            Some((_, Match::Text(v))) => {
                rows = rows.bind(*v);
                total = total.bind(*v);
            }
            Some((_, Match::Id(v))) => {
                rows = rows.bind(*v);
                total = total.bind(*v);
            }
            None => {}
        }
        let rows = rows.bind(limit).bind(offset).fetch_all(db).await?;
        let total: i64 = total.fetch_one(db).await?.try_get("n")?;
        Ok((rows.iter().map(read).collect::<Result<_, _>>()?, total))
    }
}
