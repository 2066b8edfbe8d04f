//! The T-SQL convoy sends, generated in one place so each mode's statements
//! can be read (and tested) as text.
//!
//! Identifiers are always bracket-quoted with `]` doubled, so names with
//! spaces, leading digits, dots or brackets are safe. Values never appear in
//! generated SQL except integers convoy computed itself (partition bounds).

use super::types::SqlType;

/// `[name]` with `]` doubled.
pub fn quote(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// An N'…' string literal.
pub fn literal(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

/// A table name as the user wrote it: `orders`, `dbo.orders`,
/// `[sales data].[order lines]`, `"dbo"."orders"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

impl TableName {
    pub fn parse(text: &str) -> Result<TableName, String> {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut chars = text.trim().chars().peekable();
        let mut quoted_part = false;
        while let Some(c) = chars.next() {
            match c {
                '[' if cur.is_empty() && !quoted_part => {
                    loop {
                        match chars.next() {
                            Some(']') if chars.peek() == Some(&']') => {
                                chars.next();
                                cur.push(']');
                            }
                            Some(']') => break,
                            Some(c) => cur.push(c),
                            None => return Err(format!("unclosed [ in table name {text:?}")),
                        }
                    }
                    quoted_part = true;
                }
                '"' if cur.is_empty() && !quoted_part => {
                    loop {
                        match chars.next() {
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                cur.push('"');
                            }
                            Some('"') => break,
                            Some(c) => cur.push(c),
                            None => return Err(format!("unclosed \" in table name {text:?}")),
                        }
                    }
                    quoted_part = true;
                }
                '.' => {
                    parts.push(std::mem::take(&mut cur));
                    quoted_part = false;
                }
                c if quoted_part => {
                    return Err(format!("unexpected {c:?} after a quoted name in {text:?}"))
                }
                c => cur.push(c),
            }
        }
        parts.push(cur);
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!("table name {text:?} has an empty part"));
        }
        match parts.len() {
            1 => Ok(TableName {
                schema: None,
                name: parts.remove(0),
            }),
            2 => {
                let name = parts.remove(1);
                Ok(TableName {
                    schema: Some(parts.remove(0)),
                    name,
                })
            }
            _ => Err(format!(
                "table name {text:?} has more than two parts; connect to the database and give schema.table"
            )),
        }
    }

    /// `[schema].[name]` (or `[name]`).
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.name)),
            None => quote(&self.name),
        }
    }

    /// The same schema, another name.
    pub fn sibling(&self, name: String) -> TableName {
        TableName {
            schema: self.schema.clone(),
            name,
        }
    }

    pub fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A column of a table convoy creates or loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub nullable: bool,
}

/// Session settings and the transaction every write runs in. With XACT_ABORT
/// any error rolls the whole transaction back on the server.
pub const BEGIN: &str = "SET XACT_ABORT ON; SET NOCOUNT ON; BEGIN TRANSACTION;";
pub const COMMIT: &str = "COMMIT TRANSACTION;";
pub const ROLLBACK: &str = "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;";

/// The temporary table merge and incremental loads go through.
pub const STAGE: &str = "#convoy_stage";

/// `sp_describe_first_result_set` for a statement: names, types, nullability
/// of the columns it returns, without running it.
pub fn describe(tsql: &str) -> String {
    format!(
        "EXEC sys.sp_describe_first_result_set @tsql = {}, @params = NULL, @browse_information_mode = 0;",
        literal(tsql)
    )
}

/// Whether a table exists (an `int` object id, or NULL).
pub fn object_id(table: &TableName) -> String {
    format!("SELECT OBJECT_ID({}, N'U');", literal(&table.quoted()))
}

pub fn create_table(table: &TableName, columns: &[ColumnDef]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "{} {}{}",
                quote(&c.name),
                c.ty,
                if c.nullable { " NULL" } else { " NOT NULL" }
            )
        })
        .collect();
    format!("CREATE TABLE {} ({});", table.quoted(), cols.join(", "))
}

/// The temporary stage, every column nullable (checks happen on the target).
pub fn create_stage(columns: &[ColumnDef]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .map(|c| format!("{} {} NULL", quote(&c.name), c.ty))
        .collect();
    format!(
        "IF OBJECT_ID(N'tempdb..{STAGE}') IS NOT NULL DROP TABLE {STAGE}; CREATE TABLE {STAGE} ({});",
        cols.join(", ")
    )
}

/// An empty copy of a table's columns (types, nullability, identity).
pub fn clone_empty(from: &TableName, to: &TableName) -> String {
    format!(
        "SELECT TOP (0) * INTO {} FROM {};",
        to.quoted(),
        from.quoted()
    )
}

pub fn count(table: &str) -> String {
    format!("SELECT COUNT_BIG(*) FROM {table};")
}

/// The read of a whole table: an explicit column list so money is cast to
/// decimal (tiberius would hand it over as a float).
pub fn select_table(table: &TableName, columns: &[(String, SqlType)]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .map(|(name, ty)| match ty.name.as_str() {
            "money" => format!("CAST({0} AS decimal(19,4)) AS {0}", quote(name)),
            "smallmoney" => format!("CAST({0} AS decimal(10,4)) AS {0}", quote(name)),
            _ => quote(name),
        })
        .collect();
    format!("SELECT {} FROM {}", cols.join(", "), table.quoted())
}

/// Bounds of an integer column over a query.
pub fn bounds(base: &str, column: &str) -> String {
    format!(
        "SELECT CAST(MIN({c}) AS bigint), CAST(MAX({c}) AS bigint) FROM ({base}) AS convoy_q;",
        c = quote(column)
    )
}

/// `count` half-open ranges covering `[min, max]`; the first also takes NULLs
/// and everything below, the last everything above, so no row falls between.
pub fn partition_ranges(min: i64, max: i64, count: usize) -> Vec<(Option<i64>, Option<i64>)> {
    let count = count.max(1) as i128;
    let span = max as i128 - min as i128 + 1;
    let count = count.min(span.max(1));
    let mut out = Vec::new();
    for i in 0..count {
        let lo = if i == 0 {
            None
        } else {
            Some((min as i128 + span * i / count) as i64)
        };
        let hi = if i == count - 1 {
            None
        } else {
            Some((min as i128 + span * (i + 1) / count) as i64)
        };
        out.push((lo, hi));
    }
    out
}

/// One partition of a read.
pub fn partition_query(base: &str, column: &str, lo: Option<i64>, hi: Option<i64>) -> String {
    let c = quote(column);
    let cond = match (lo, hi) {
        (None, None) => "1 = 1".to_string(),
        (None, Some(h)) => format!("({c} < {h} OR {c} IS NULL)"),
        (Some(l), None) => format!("{c} >= {l}"),
        (Some(l), Some(h)) => format!("{c} >= {l} AND {c} < {h}"),
    };
    format!("SELECT * FROM ({base}) AS convoy_q WHERE {cond}")
}

/// Replace: the loaded table takes the old one's name, in the open transaction.
pub fn swap(target: &TableName, new: &TableName, old: Option<&TableName>) -> String {
    let mut sql = String::new();
    if let Some(old) = old {
        sql.push_str(&format!(
            "EXEC sp_rename {}, {}, N'OBJECT'; ",
            literal(&target.quoted()),
            literal(&old.name)
        ));
    }
    sql.push_str(&format!(
        "EXEC sp_rename {}, {}, N'OBJECT';",
        literal(&new.quoted()),
        literal(&target.name)
    ));
    if let Some(old) = old {
        sql.push_str(&format!(" DROP TABLE {};", old.quoted()));
    }
    sql
}

/// Rows of the stage whose key is NULL or appears more than once (merge
/// refuses them: MERGE would fail or pick one arbitrarily).
pub fn bad_keys(keys: &[String]) -> String {
    let k: Vec<String> = keys.iter().map(|k| quote(k)).collect();
    let nulls: Vec<String> = k.iter().map(|c| format!("{c} IS NULL")).collect();
    format!(
        "SELECT (SELECT COUNT_BIG(*) FROM {STAGE} WHERE {}), (SELECT COUNT_BIG(*) FROM (SELECT {} FROM {STAGE} GROUP BY {} HAVING COUNT_BIG(*) > 1) AS d);",
        nulls.join(" OR "),
        k.join(", "),
        k.join(", ")
    )
}

/// Merge the stage into the target on `keys`: update matches, insert the rest.
pub fn merge(target: &TableName, columns: &[String], keys: &[String]) -> String {
    let on: Vec<String> = keys
        .iter()
        .map(|k| format!("t.{0} = s.{0}", quote(k)))
        .collect();
    let set: Vec<String> = columns
        .iter()
        .filter(|c| !keys.contains(c))
        .map(|c| format!("t.{0} = s.{0}", quote(c)))
        .collect();
    let cols: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let vals: Vec<String> = columns.iter().map(|c| format!("s.{}", quote(c))).collect();
    let mut sql = format!(
        "MERGE {} WITH (HOLDLOCK) AS t USING {STAGE} AS s ON {}",
        target.quoted(),
        on.join(" AND ")
    );
    if !set.is_empty() {
        sql.push_str(&format!(" WHEN MATCHED THEN UPDATE SET {}", set.join(", ")));
    }
    sql.push_str(&format!(
        " WHEN NOT MATCHED BY TARGET THEN INSERT ({}) VALUES ({});",
        cols.join(", "),
        vals.join(", ")
    ));
    sql
}

/// Incremental: insert the staged rows past the target's current cursor maximum.
pub fn incremental(target: &TableName, columns: &[String], cursor: &str) -> String {
    let cols: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let c = quote(cursor);
    format!(
        "DECLARE @convoy_max sql_variant = (SELECT MAX({c}) FROM {t} WITH (UPDLOCK, HOLDLOCK)); \
INSERT INTO {t} ({cols}) SELECT {cols} FROM {STAGE} WHERE @convoy_max IS NULL OR {c} > (SELECT MAX({c}) FROM {t});",
        t = target.quoted(),
        cols = cols.join(", ")
    )
}

/// Staged rows at or before the cursor maximum (skipped by an incremental load).
pub fn incremental_skipped(target: &TableName, cursor: &str) -> String {
    let c = quote(cursor);
    format!(
        "SELECT COUNT_BIG(*) FROM {STAGE} WHERE {c} IS NULL OR {c} <= (SELECT MAX({c}) FROM {t});",
        t = target.quoted()
    )
}

/// Isolation settings of the current database.
pub const ISOLATION: &str = "SELECT CAST(snapshot_isolation_state AS int), CAST(is_read_committed_snapshot_on AS int) FROM sys.databases WHERE database_id = DB_ID();";
pub const SNAPSHOT_BEGIN: &str = "SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRANSACTION;";

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TableName {
        TableName::parse(s).unwrap()
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("name]with]brackets"), "[name]]with]]brackets]");
        assert_eq!(quote("1st column"), "[1st column]");
        assert_eq!(quote("a.b"), "[a.b]");
        assert_eq!(literal("O'Brien"), "N'O''Brien'");
    }

    #[test]
    fn table_names_parse() {
        assert_eq!(t("orders").quoted(), "[orders]");
        assert_eq!(t("dbo.orders").quoted(), "[dbo].[orders]");
        assert_eq!(
            t("[sales data].[order]]lines]").quoted(),
            "[sales data].[order]]lines]"
        );
        assert_eq!(t("\"dbo\".\"2024 orders\"").quoted(), "[dbo].[2024 orders]");
        assert_eq!(t("[a.b].c").schema.as_deref(), Some("a.b"));
        assert!(TableName::parse("db.dbo.orders").is_err());
        assert!(TableName::parse("[dbo").is_err());
        assert!(TableName::parse("dbo.").is_err());
        assert!(TableName::parse("[a]x").is_err());
    }

    #[test]
    fn create_statements() {
        let cols = vec![
            ColumnDef {
                name: "id".into(),
                ty: SqlType::parse("bigint"),
                nullable: false,
            },
            ColumnDef {
                name: "total]amount".into(),
                ty: SqlType::parse("decimal(18,4)"),
                nullable: true,
            },
        ];
        assert_eq!(
            create_table(&t("dbo.orders"), &cols),
            "CREATE TABLE [dbo].[orders] ([id] bigint NOT NULL, [total]]amount] decimal(18,4) NULL);"
        );
        assert_eq!(
            create_stage(&cols),
            "IF OBJECT_ID(N'tempdb..#convoy_stage') IS NOT NULL DROP TABLE #convoy_stage; CREATE TABLE #convoy_stage ([id] bigint NULL, [total]]amount] decimal(18,4) NULL);"
        );
    }

    #[test]
    fn replace_swaps_in_one_transaction() {
        let target = t("dbo.orders");
        let new = target.sibling("orders__convoy_new_1".into());
        let old = target.sibling("orders__convoy_old_1".into());
        assert_eq!(
            swap(&target, &new, Some(&old)),
            "EXEC sp_rename N'[dbo].[orders]', N'orders__convoy_old_1', N'OBJECT'; \
EXEC sp_rename N'[dbo].[orders__convoy_new_1]', N'orders', N'OBJECT'; \
DROP TABLE [dbo].[orders__convoy_old_1];"
        );
        assert_eq!(
            swap(&target, &new, None),
            "EXEC sp_rename N'[dbo].[orders__convoy_new_1]', N'orders', N'OBJECT';"
        );
        assert_eq!(
            clone_empty(&target, &new),
            "SELECT TOP (0) * INTO [dbo].[orders__convoy_new_1] FROM [dbo].[orders];"
        );
        assert!(BEGIN.contains("XACT_ABORT ON") && BEGIN.contains("BEGIN TRANSACTION"));
    }

    #[test]
    fn merge_statement() {
        let cols = vec!["id".to_string(), "name".to_string(), "qty".to_string()];
        assert_eq!(
            merge(&t("dbo.items"), &cols, &["id".to_string()]),
            "MERGE [dbo].[items] WITH (HOLDLOCK) AS t USING #convoy_stage AS s ON t.[id] = s.[id] \
WHEN MATCHED THEN UPDATE SET t.[name] = s.[name], t.[qty] = s.[qty] \
WHEN NOT MATCHED BY TARGET THEN INSERT ([id], [name], [qty]) VALUES (s.[id], s.[name], s.[qty]);"
        );
        // Only keys: nothing to update.
        let keys = vec!["a".to_string(), "b".to_string()];
        let sql = merge(&t("x"), &keys, &keys);
        assert!(!sql.contains("WHEN MATCHED"), "{sql}");
        assert!(sql.contains("ON t.[a] = s.[a] AND t.[b] = s.[b]"), "{sql}");
        assert_eq!(
            bad_keys(&["id".to_string()]),
            "SELECT (SELECT COUNT_BIG(*) FROM #convoy_stage WHERE [id] IS NULL), (SELECT COUNT_BIG(*) FROM (SELECT [id] FROM #convoy_stage GROUP BY [id] HAVING COUNT_BIG(*) > 1) AS d);"
        );
    }

    #[test]
    fn incremental_statement() {
        let sql = incremental(&t("dbo.events"), &["id".into(), "at".into()], "at");
        assert_eq!(
            sql,
            "DECLARE @convoy_max sql_variant = (SELECT MAX([at]) FROM [dbo].[events] WITH (UPDLOCK, HOLDLOCK)); \
INSERT INTO [dbo].[events] ([id], [at]) SELECT [id], [at] FROM #convoy_stage WHERE @convoy_max IS NULL OR [at] > (SELECT MAX([at]) FROM [dbo].[events]);"
        );
    }

    #[test]
    fn reads_and_partitions() {
        let cols = vec![
            ("id".to_string(), SqlType::parse("int")),
            ("price".to_string(), SqlType::parse("money")),
        ];
        assert_eq!(
            select_table(&t("dbo.p"), &cols),
            "SELECT [id], CAST([price] AS decimal(19,4)) AS [price] FROM [dbo].[p]"
        );
        assert_eq!(
            partition_ranges(1, 100, 4),
            vec![
                (None, Some(26)),
                (Some(26), Some(51)),
                (Some(51), Some(76)),
                (Some(76), None)
            ]
        );
        assert_eq!(partition_ranges(5, 6, 8).len(), 2);
        assert_eq!(partition_ranges(i64::MIN, i64::MAX, 2).len(), 2);
        assert_eq!(
            partition_query("SELECT [id] FROM [t]", "id", Some(26), Some(51)),
            "SELECT * FROM (SELECT [id] FROM [t]) AS convoy_q WHERE [id] >= 26 AND [id] < 51"
        );
        assert_eq!(
            partition_query("SELECT 1 AS id", "id", None, Some(2)),
            "SELECT * FROM (SELECT 1 AS id) AS convoy_q WHERE ([id] < 2 OR [id] IS NULL)"
        );
        assert!(describe("SELECT 'a'").contains("@tsql = N'SELECT ''a'''"));
    }
}
