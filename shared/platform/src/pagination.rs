//! Keyset pagination over `(created_at, id)`, newest first: the `limit` and `cursor` query
//! parameters of list routes, and the opaque cursor of the next page.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Datelike, Utc};
use gsign_core::FieldError;
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The position after which a page starts.
pub type Position = (DateTime<Utc>, Uuid);

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    t: DateTime<Utc>,
    id: Uuid,
}

/// What a list request asks for.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Rows per page.
    pub limit: i64,
    /// Start after this row (from the previous page's cursor).
    pub after: Option<Position>,
}

impl PageRequest {
    /// The first page of `limit` rows.
    pub fn first(limit: i64) -> Self {
        Self { limit, after: None }
    }

    /// Reads `limit` (1 to `max`, default `default`) and `cursor` from `req`, adding what is
    /// wrong to `errors`.
    pub fn read(req: &Request, default: i64, max: i64, errors: &mut Vec<FieldError>) -> Self {
        let limit = crate::http::query(req, "limit");
        let cursor = crate::http::query(req, "cursor");
        Self::parse(limit, cursor, default, max, errors)
    }

    /// Checks the `limit` (1 to `max`, default `default`) and `cursor` parameters as given,
    /// adding what is wrong to `errors`.
    pub fn parse(
        limit: Option<&str>,
        cursor: Option<&str>,
        default: i64,
        max: i64,
        errors: &mut Vec<FieldError>,
    ) -> Self {
        let limit = match limit {
            None => default,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new("/limit", format!("must be 1 to {max}")));
                    default
                }
            },
        };
        let after = cursor.and_then(|raw| {
            let cursor = URL_SAFE_NO_PAD
                .decode(raw)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Cursor>(&bytes).ok())
                // Only positions a row can have: a forged far-future time would reach
                // Postgres, whose timestamps end in year 294276, as an error.
                .filter(|c| (1970..=9999).contains(&c.t.year()));
            if cursor.is_none() {
                errors.push(FieldError::new(
                    "/cursor",
                    "is not a cursor this API returned",
                ));
            }
            cursor.map(|c| (c.t, c.id))
        });
        Self { limit, after }
    }

    /// How many rows to fetch: one more than a page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts `rows` (fetched with [`Self::fetch`]) to one page and returns the cursor of the
    /// next page, if there is one; `position` gives a row's `(created_at, id)`.
    pub fn finish<R>(
        &self,
        rows: &mut Vec<R>,
        position: impl Fn(&R) -> Position,
    ) -> Option<String> {
        let limit = usize::try_from(self.limit).unwrap_or(0);
        if rows.len() <= limit {
            return None;
        }
        rows.truncate(limit);
        let (t, id) = position(rows.last()?);
        serde_json::to_vec(&Cursor { t, id })
            .ok()
            .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// A page of a list answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct Page<T> {
    /// The rows.
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}
