//! The one list query behind every HAL collection: a page of a table and its total.

use sqlx::Row;

use super::Db;

/// A page of a table (`LIMIT`/`OFFSET`) and how many rows match in all: the one list query
/// behind every HAL collection.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery<'a> {
    pub table: &'a str,
    pub columns: &'a str,
    pub order_by: &'a str,
    /// Only the rows whose `column` equals the value (none: every row).
    pub filter: Option<(&'a str, Match<'a>)>,
}

/// A value to filter on.
#[derive(Debug, Clone, Copy)]
pub enum Match<'a> {
    Text(&'a str),
    Id(i64),
}

impl PageQuery<'_> {
    /// The rows of page `limit`/`offset`, each read by `read`, and the total.
    pub async fn fetch<T>(
        &self,
        db: &Db,
        limit: i64,
        offset: i64,
        read: impl Fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
    ) -> Result<(Vec<T>, i64), sqlx::Error> {
        let PageQuery {
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
