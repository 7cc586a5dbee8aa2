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

    /// Page `limit`/`offset`, each row read by `read`, and the total. Rows and total come from
    /// one statement, so they agree (two queries could see a row committed in between: a
    /// total of 1 over an empty page); an empty first page has a total of 0, and only a page
    /// past the end asks for the total again.
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
        let count = format!("SELECT COUNT(*) FROM {table} {clause}");
        let select = format!(
            "SELECT {columns}, ({count}) AS page_total FROM {table} {clause} \
             ORDER BY {order_by} LIMIT ${first} OFFSET ${}",
            first + 1
        );
        let mut rows = sqlx::query(&select);
        let mut total = sqlx::query_scalar::<_, i64>(&count);
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
        let total: i64 = match rows.first() {
            Some(row) => row.try_get("page_total")?,
            // An empty first page: there was nothing (a count now could see a row committed
            // since, and say 1 over an empty page).
            None if offset == 0 => 0,
            // Past the end: how many there are now.
            None => total.fetch_one(db).await?,
        };
        Ok((rows.iter().map(read).collect::<Result<_, _>>()?, total))
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed step fails the test"
    )]

    use super::*;

    async fn rooms() -> Db {
        static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
        let none = crate::db::Migrations {
            sqlite: &NONE,
            postgres: &NONE,
        };
        let db = crate::db::connect("sqlite::memory:", &none).await.unwrap();
        sqlx::query("CREATE TABLE room (room_number BIGINT, customer TEXT)")
            .execute(&db)
            .await
            .unwrap();
        for (n, who) in [(1, "alice"), (2, "bob"), (3, "alice")] {
            sqlx::query("INSERT INTO room VALUES ($1, $2)")
                .bind(n)
                .bind(who)
                .execute(&db)
                .await
                .unwrap();
        }
        db
    }

    async fn numbers(table: Table<'_>, db: &Db, limit: i64, offset: i64) -> (Vec<i64>, i64) {
        table
            .page_read(db, limit, offset, |row| {
                row.try_get::<i64, _>("room_number")
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_page_and_its_total_past_the_end_and_filtered() {
        let db = rooms().await;
        let all = Table::new("room", "room_number", "room_number");
        assert_eq!(numbers(all, &db, 2, 0).await, (vec![1, 2], 3));
        assert_eq!(numbers(all, &db, 2, 2).await, (vec![3], 3));
        // Past the end: no rows, still the total.
        assert_eq!(numbers(all, &db, 2, 10).await, (vec![], 3));
        let alice = all.of_customer(Some("alice"));
        assert_eq!(numbers(alice, &db, 1, 0).await, (vec![1], 2));
        assert_eq!(numbers(alice, &db, 1, 5).await, (vec![], 2));
        let by_id = all.only("room_number", Some(Match::Id(2)));
        assert_eq!(numbers(by_id, &db, 10, 0).await, (vec![2], 1));
        let nobody = all.of_customer(Some("carol"));
        assert_eq!(numbers(nobody, &db, 10, 0).await, (vec![], 0));
    }
}
