//! Organisations, departments and consortia.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::{StoreResult, classify, new_id, now_ms};

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub name: String,
    pub kind: String,
    pub level: Option<String>,
    pub province: String,
    pub city: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub level: Option<String>,
    pub province: String,
    pub city: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct DepartmentRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub specialty: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct ConsortiumRow {
    pub id: String,
    pub name: String,
    pub lead_org_id: String,
}

const ORG_COLUMNS: &str = "id, name, kind, level, province, city, created_at";

pub async fn insert_org(conn: &mut AnyConnection, new: &NewOrg) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO organisations (id, name, kind, level, province, city, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&new.name)
    .bind(&new.kind)
    .bind(new.level.as_deref())
    .bind(&new.province)
    .bind(&new.city)
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["name"]))?;
    Ok(id)
}

pub async fn org(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<OrgRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ORG_COLUMNS} FROM organisations WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Public directory of organisations, optionally narrowed by kind and city.
pub async fn list_orgs(
    conn: &mut AnyConnection,
    kind: Option<&str>,
    city: Option<&str>,
) -> StoreResult<Vec<OrgRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ORG_COLUMNS} FROM organisations \
         WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR city = $2) ORDER BY province, city, name"
    )))
    .bind(kind)
    .bind(city)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn insert_department(
    conn: &mut AnyConnection,
    org_id: &str,
    name: &str,
    specialty: &str,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO departments (id, org_id, name, specialty, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(name)
    .bind(specialty)
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["name"]))?;
    Ok(id)
}

pub async fn departments_of(
    conn: &mut AnyConnection,
    org_id: &str,
) -> StoreResult<Vec<DepartmentRow>> {
    Ok(sqlx::query_as(
        "SELECT id, org_id, name, specialty FROM departments WHERE org_id = $1 ORDER BY name",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn department(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<DepartmentRow>> {
    Ok(
        sqlx::query_as("SELECT id, org_id, name, specialty FROM departments WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn insert_consortium(
    conn: &mut AnyConnection,
    name: &str,
    lead_org_id: &str,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO consortia (id, name, lead_org_id, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(name)
    .bind(lead_org_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["name"]))?;
    add_member(conn, &id, lead_org_id).await?;
    Ok(id)
}

pub async fn add_member(
    conn: &mut AnyConnection,
    consortium_id: &str,
    org_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO consortium_members (consortium_id, org_id, joined_at) VALUES ($1, $2, $3) \
         ON CONFLICT (consortium_id, org_id) DO NOTHING",
    )
    .bind(consortium_id)
    .bind(org_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn consortium(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<ConsortiumRow>> {
    Ok(
        sqlx::query_as("SELECT id, name, lead_org_id FROM consortia WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn members_of(conn: &mut AnyConnection, consortium_id: &str) -> StoreResult<Vec<OrgRow>> {
    Ok(sqlx::query_as(
        "SELECT o.id, o.name, o.kind, o.level, o.province, o.city, o.created_at \
         FROM organisations o JOIN consortium_members m ON m.org_id = o.id \
         WHERE m.consortium_id = $1 ORDER BY o.kind, o.name",
    )
    .bind(consortium_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn consortia_of(
    conn: &mut AnyConnection,
    org_id: &str,
) -> StoreResult<Vec<ConsortiumRow>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.name, c.lead_org_id FROM consortia c \
         JOIN consortium_members m ON m.consortium_id = c.id WHERE m.org_id = $1 ORDER BY c.name",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}
