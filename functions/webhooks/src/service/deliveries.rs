//! An endpoint's delivery log (`GET /v1/webhooks/{id}/deliveries`) and a delivery's retry
//! (`POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry`).

use std::time::Duration;

use gsign_core::webhooks::DeliveryStatus;
use gsign_platform::http::Caller;
use gsign_platform::pagination::Page;
use uuid::Uuid;

use crate::error::{WebhooksCase, WebhooksError};
use crate::service::Job;
use crate::store::delivery_log::Delivery;

use super::WebhooksApi;

/// `GET /v1/webhooks/{id}/deliveries`' query, checked.
#[derive(Debug, Clone, Copy)]
pub enum DeliveryQuery {
    /// The delivery of this one event (`event_id`).
    Event(Uuid),
    /// A page of the log: `limit` rows (1 to 100) after the delivery `after` (the cursor).
    Page {
        /// Rows per page.
        limit: i32,
        /// The previous page's last delivery.
        after: Option<Uuid>,
    },
}

impl WebhooksApi {
    /// `GET /v1/webhooks/{id}/deliveries`: the endpoint's delivery log, newest first.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn deliveries(
        &self,
        caller: &Caller,
        id: Uuid,
        query: DeliveryQuery,
    ) -> Result<Page<Delivery>, WebhooksError> {
        let endpoint = self.endpoint(caller, id).await?;
        match query {
            // One event's delivery (the log's key is the endpoint and the event).
            DeliveryQuery::Event(event) => {
                let data = self.services.log.get(endpoint.id, event).await?;
                Ok(Page {
                    data: data.into_iter().collect(),
                    next_cursor: None,
                })
            }
            DeliveryQuery::Page { limit, after } => {
                let (data, next_cursor) = self.services.log.list(endpoint.id, after, limit).await?;
                Ok(Page { data, next_cursor })
            }
        }
    }

    /// `POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry`: delivers a failed delivery again.
    #[tracing::instrument(skip_all, fields(id = %id, delivery = %delivery))]
    pub async fn retry(
        &self,
        caller: &Caller,
        id: Uuid,
        delivery: Uuid,
    ) -> Result<serde_json::Value, WebhooksError> {
        let endpoint = self.endpoint(caller, id).await?;
        let s = &self.services;
        let found = s
            .log
            .get(endpoint.id, delivery)
            .await?
            .filter(|d| d.organization_id == caller.org)
            .ok_or(WebhooksError::NotFound("delivery"))?;
        if found.status == DeliveryStatus::Pending {
            return Err(WebhooksCase::StillPending.into());
        }
        s.log
            .replay(endpoint.id, delivery, s.delivery.max_attempts())
            .await?;
        let job = Job {
            organization_id: caller.org,
            endpoint_id: endpoint.id,
            event_id: delivery,
            not_before: None,
        };
        s.enqueue(&job, Duration::ZERO).await?;
        Ok(serde_json::json!({"id": delivery, "status": "pending"}))
    }
}
