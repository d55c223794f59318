//! The one error type of the HTTP boundary: a stable `code` and a safe message; internal causes
//! are logged once and never sent.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A failed request.
#[derive(Debug)]
pub enum ApiError {
    /// No or a bad bearer token, or wrong credentials (one generic message).
    Unauthorized,
    /// The request is malformed; the message says what to fix.
    BadRequest(String),
    /// Too many attempts; retry after the given time.
    TooManyRequests(Duration),
    /// The member's role does not allow it; the message says what is needed.
    Forbidden(String),
    /// What the request names does not exist (in this workspace).
    NotFound(String),
    /// The request breaks a rule; a stable code and what to do.
    Refused {
        /// HTTP status.
        status: StatusCode,
        /// Stable code for callers.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// Something failed on the relay; the cause is logged, not sent.
    Internal(String),
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        let (status, code) = match &error {
            StoreError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            StoreError::NotFound(_) => return Self::NotFound(error.to_string()),
            StoreError::LastOwner => (StatusCode::CONFLICT, "last_owner"),
            StoreError::InvitationInvalid => (StatusCode::BAD_REQUEST, "invitation_invalid"),
            StoreError::InvitationExpired => (StatusCode::GONE, "invitation_expired"),
            StoreError::Sql(cause) if database_unavailable(cause) => {
                tracing::error!(%cause, "the database cannot take the request");
                return Self::unavailable();
            }
            _ => return Self::internal(error),
        };
        Self::Refused {
            status,
            code,
            message: error.to_string(),
        }
    }
}

/// Whether a database error means the database cannot serve anyone now (its disk is full or
/// failing, it is locked or gone, or SQLite rolled the request back by itself), rather than a
/// fault of this request or a defect: the caller should retry later (503), not report a bug.
fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                return postgres_unavailable(pg.code());
            }
            // SQLite's primary result codes: BUSY 5, LOCKED 6, NOMEM 7, READONLY 8, IOERR 10,
            // CORRUPT 11, FULL 13, CANTOPEN 14; a trigger's RAISE(ROLLBACK) is how tests fail a
            // write the way a full disk does (the transaction is gone).
            let primary = db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .map(|code| code & 0xff);
            matches!(primary, Some(5 | 6 | 7 | 8 | 10 | 11 | 13 | 14))
                || db
                    .message()
                    .contains("cannot start a transaction within a transaction")
        }
        _ => false,
    }
}

/// Whether a database error is a unique key already taken.
fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Whether a PostgreSQL SQLSTATE means the database cannot serve anyone now: a lost connection
/// (class 08), no resources (53: a full disk, too many connections), the server shutting down or
/// starting (57P01-57P03), an I/O or system error (58), a standby that takes no writes after a
/// failover (25006), corruption (XX001, XX002), or a transaction that lost a race with another
/// instance (40001 serialization, 40P01 deadlock, 55P03 lock timeout) and is worth retrying.
fn postgres_unavailable(sqlstate: &str) -> bool {
    let class = sqlstate.get(..2).unwrap_or_default();
    matches!(class, "08" | "53" | "58")
        || matches!(
            sqlstate,
            "57P01" | "57P02" | "57P03" | "25006" | "XX001" | "XX002" | "40001" | "40P01" | "55P03"
        )
}

/// Seconds a client is told to wait before retrying a 503 (`Retry-After`).
const UNAVAILABLE_RETRY_AFTER: &str = "2";

impl ApiError {
    /// A store error where the route expects none: 503 `unavailable` when the database cannot
    /// serve anyone now (see `database_unavailable`), else internal (500).
    pub fn store(error: crate::store::StoreError) -> Self {
        match error {
            crate::store::StoreError::Sql(_) => Self::from(error),
            other => Self::internal(other),
        }
    }

    /// The sequencer could not commit (or is stopping): 503 `unavailable` when the database cannot
    /// serve anyone now or the relay is shutting down, else internal (500).
    pub fn sequencer(error: crate::sequencer::SequencerError) -> Self {
        use crate::sequencer::SequencerError;
        let unavailable = match &error {
            SequencerError::Stopped => true,
            // A unique key taken under a batch is a race with another writer (an instance that
            // committed the same redelivery first): the batch is worth retrying, and Meta and
            // devices retry it, where it is then recognised.
            SequencerError::Store(cause) => matches!(
                &**cause,
                crate::store::StoreError::Sql(e) if database_unavailable(e) || is_unique_violation(e)
            ),
        };
        if !unavailable {
            return Self::internal(error);
        }
        tracing::error!(%error, "the event log cannot take the request");
        Self::unavailable()
    }

    /// 503 `unavailable`: the database cannot serve anyone now; retry shortly.
    fn unavailable() -> Self {
        Self::Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: "The relay cannot use its database right now; try again shortly.".into(),
        }
    }

    /// Wraps an internal error (logged when the response is built).
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Sign in again: the email, password or device token is not valid.".to_string(),
            ),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            Self::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many attempts; wait and try again.".to_string(),
            ),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            Self::Refused {
                status,
                code,
                message,
            } => (*status, *code, message.clone()),
            Self::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "The relay could not complete the request; try again.".to_string(),
                )
            }
        };
        let mut response = (
            status,
            axum::Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response();
        if let Self::TooManyRequests(wait) = self
            && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        } else if code == "unavailable" {
            // The database cannot serve anyone now: a moment later it may (a restart, a failover).
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};

    use super::{database_unavailable, postgres_unavailable};

    #[tokio::test]
    async fn a_batch_that_lost_a_race_on_a_unique_key_answers_503_so_it_is_retried() {
        use axum::response::IntoResponse;
        use std::sync::Arc;
        let taken = error_of("INSERT INTO t VALUES (1)", false).await;
        let lost =
            crate::sequencer::SequencerError::Store(Arc::new(crate::store::StoreError::Sql(taken)));
        let response = super::ApiError::sequencer(lost).into_response();
        assert_eq!(
            response.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        // A defect in a batch stays a 500.
        let defect = error_of("SELECT nothing FROM nowhere", false).await;
        let broken = crate::sequencer::SequencerError::Store(Arc::new(
            crate::store::StoreError::Sql(defect),
        ));
        let response = super::ApiError::sequencer(broken).into_response();
        assert_eq!(
            response.status(),
            axum::http::StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn an_unavailable_database_answers_503_with_retry_after() {
        use axum::response::IntoResponse;
        let response = super::ApiError::unavailable().into_response();
        assert_eq!(
            response.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(response.headers()["retry-after"], "2");
    }

    #[test]
    fn postgres_errors_that_are_not_the_requests_fault_are_unavailable() {
        for code in [
            "08006", "53100", "53300", "57P01", "58030", "25006", "40P01", "40001",
        ] {
            assert!(postgres_unavailable(code), "{code}");
        }
        // A unique violation, a syntax error, a check violation: the request's or a defect.
        for code in ["23505", "42601", "23514", "22P02"] {
            assert!(!postgres_unavailable(code), "{code}");
        }
    }

    /// A real SQLite error of each kind, from a file in a temporary folder.
    async fn error_of(sql: &str, read_only: bool) -> sqlx::Error {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let mut setup = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
            .execute(&mut setup)
            .await
            .unwrap();
        setup.close().await.unwrap();
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(read_only)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap_err()
    }

    #[tokio::test]
    async fn a_database_that_cannot_write_is_unavailable_and_a_bad_request_is_not() {
        let read_only = error_of("INSERT INTO t VALUES (2)", true).await;
        assert!(database_unavailable(&read_only), "{read_only}");
        let duplicate = error_of("INSERT INTO t VALUES (1)", false).await;
        assert!(!database_unavailable(&duplicate), "{duplicate}");
        let defect = error_of("SELECT nothing FROM nowhere", false).await;
        assert!(!database_unavailable(&defect), "{defect}");
        assert!(database_unavailable(&sqlx::Error::PoolTimedOut));
    }
}
