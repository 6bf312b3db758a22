//! The webhooks area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it) and each route's glue:
//! parse, authorize, call the service, map the answer.

use std::sync::Arc;

use async_trait::async_trait;
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::webhooks::EventType;
use gsign_core::{Action, Env};
use gsign_platform::http::{self as web};
use gsign_platform::lambda::{http_route, AreaSpec, HttpHandler, InitFuture, RouteSpec};
use gsign_platform::pagination::{Page, PageRequest};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use uuid::Uuid;

use crate::error::WebhooksError;
use crate::service::{DeliveryQuery, EndpointInput, EndpointView, WebhooksApi};
use crate::store::delivery_log::Delivery;
use crate::store::Endpoint;

/// `POST /v1/webhooks` body.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the wire, never built
#[schemars(example = serde_json::json!({
    "url": "https://hooks.gobi-trade.mn/gsign",
    "description": "Contracts system",
    "event_types": ["envelope.completed", "recipient.signed"],
}))]
struct CreateWebhook {
    /// Where deliveries are POSTed: a public https URL (at most 2048 characters).
    #[schemars(url)]
    url: String,
    /// A note for people, at most 255 characters (blank: none).
    #[schemars(length(max = 255))]
    description: Option<String>,
    /// Event types to deliver; empty or absent: all.
    event_types: Option<Vec<EventType>>,
}

/// `GET /v1/webhooks` query.
#[derive(JsonSchema)]
#[schemars(inline)]
#[allow(dead_code)] // describes the wire, never built
struct ListWebhooksQuery {
    /// Endpoints per page, 1 to 100 (50 if absent).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

/// `GET /v1/webhooks/{id}/deliveries` query.
#[derive(JsonSchema)]
#[schemars(inline)]
#[allow(dead_code)] // describes the wire, never built
struct ListDeliveriesQuery {
    /// Only this event's delivery (a page of one, or none); `limit` and `cursor` are ignored.
    event_id: Option<Uuid>,
    /// Deliveries per page, 1 to 100 (50 if absent).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i32>,
    /// The previous page's `next_cursor`.
    cursor: Option<Uuid>,
}

/// Reads `GET /v1/webhooks`' `limit` and `cursor`.
fn endpoint_page(req: &Request) -> Result<PageRequest, WebhooksError> {
    let mut errors = Vec::new();
    let page = PageRequest::read(req, 50, 100, &mut errors);
    if errors.is_empty() {
        Ok(page)
    } else {
        Err(WebhooksError::Validation(errors))
    }
}

/// Reads `GET /v1/webhooks/{id}/deliveries`' query: one event, or a page of the log.
fn delivery_query(req: &Request) -> Result<DeliveryQuery, WebhooksError> {
    if let Some(event) = web::query(req, "event_id") {
        return event
            .parse::<Uuid>()
            .map(DeliveryQuery::Event)
            .map_err(|_| WebhooksError::invalid("/event_id", "is not an event id"));
    }
    let limit = match web::query(req, "limit").map(str::parse::<i32>) {
        None => 50,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return Err(WebhooksError::invalid("/limit", "must be 1 to 100")),
    };
    let after = match web::query(req, "cursor").map(str::parse::<Uuid>) {
        None => None,
        Some(Ok(after)) => Some(after),
        Some(Err(_)) => {
            return Err(WebhooksError::invalid(
                "/cursor",
                "is not a cursor of this list",
            ))
        }
    };
    Ok(DeliveryQuery::Page { limit, after })
}

/// `POST /v1/webhooks/{id}/test`'s answer.
#[derive(JsonSchema)]
#[schemars(rename = "WebhookTestQueued")]
#[allow(dead_code)] // describes the wire, never built
struct TestQueued {
    /// The `webhook.test` event's id: its delivery is `event_id` in the endpoint's log.
    event_id: Uuid,
}

/// `POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry`'s answer.
#[derive(JsonSchema)]
#[schemars(rename = "WebhookRetryQueued")]
#[allow(dead_code)] // describes the wire, never built
struct RetryQueued {
    /// The delivery (its event id).
    id: Uuid,
    /// Always `pending`: a fresh series of attempts starts now.
    #[schemars(extend("const" = "pending"))]
    status: String,
}

/// The webhooks area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-webhooks",
    name: "webhooks",
    description: "Endpoints that receive signed event deliveries, their secrets, and the delivery log with replay.",
    routes: &[
        RouteSpec::new(
            Operation::new(
                "api-create-webhook",
                "POST",
                "/v1/webhooks",
                "Registers an endpoint (URL through the SSRF guard) and returns its signing secret once.",
                Reply::Json(201, schema::<EndpointView>),
            )
            .with_body(schema::<CreateWebhook>),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::Create),
        )
        .idempotent("create-webhook")
        .holding_a_secret(),
        RouteSpec::new(
            Operation::new(
                "api-list-webhooks",
                "GET",
                "/v1/webhooks",
                "The organization's endpoints, newest first.",
                Reply::Json(200, schema::<Page<Endpoint>>),
            )
            .with_query(schema::<ListWebhooksQuery>),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::List),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-webhook",
                "GET",
                "/v1/webhooks/{id}",
                "One endpoint.",
                Reply::Json(200, schema::<Endpoint>),
            ),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::Get),
        ),
        RouteSpec::new(
            Operation::new(
                "api-update-webhook",
                "PATCH",
                "/v1/webhooks/{id}",
                "URL, description, event types; pause or re-enable.",
                Reply::Json(200, schema::<Endpoint>),
            )
            .with_body(schema::<EndpointInput>),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::Update),
        ),
        RouteSpec::new(
            Operation::new(
                "api-delete-webhook",
                "DELETE",
                "/v1/webhooks/{id}",
                "Stops deliveries; the log stays.",
                Reply::Empty(204),
            ),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::Delete),
        ),
        RouteSpec::new(
            Operation::new(
                "api-rotate-webhook-secret",
                "POST",
                "/v1/webhooks/{id}/rotate-secret",
                "A new secret (shown once); the old one signs for 24 more hours.",
                Reply::Json(200, schema::<EndpointView>),
            ),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::RotateSecret),
        ),
        RouteSpec::new(
            Operation::new(
                "api-test-webhook",
                "POST",
                "/v1/webhooks/{id}/test",
                "Sends a webhook.test event to this endpoint.",
                Reply::Json(202, schema::<TestQueued>),
            ),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::Test),
        ),
        RouteSpec::new(
            Operation::new(
                "api-list-webhook-deliveries",
                "GET",
                "/v1/webhooks/{id}/deliveries",
                "The endpoint's delivery log, newest first, every attempt listed.",
                Reply::Json(200, schema::<Page<Delivery>>),
            )
            .with_query(schema::<ListDeliveriesQuery>),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::Deliveries),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-webhook-delivery",
                "GET",
                "/v1/webhooks/{id}/deliveries/{delivery_id}",
                "One delivery of the endpoint's log (its id is the event's), every attempt listed.",
                Reply::Json(200, schema::<Delivery>),
            ),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::Delivery),
        ),
        RouteSpec::new(
            Operation::new(
                "api-retry-webhook-delivery",
                "POST",
                "/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
                "Replays a failed or delivered delivery (same event id).",
                Reply::Json(202, schema::<RetryQueued>),
            ),
            Action::ManageWebhooks,
            |env, spec| init_route(env, spec, Route::Retry),
        ),
    ],
    jobs: &[crate::jobs::fan_out::FUNCTION, crate::jobs::deliver::FUNCTION],
};

/// The largest request body.
const BODY_LIMIT: usize = 16 * 1024;

/// Which route a function serves (its entry in [`AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
enum Route {
    Create,
    List,
    Get,
    Update,
    Delete,
    RotateSecret,
    Test,
    Deliveries,
    Delivery,
    Retry,
}

struct WebhookRoute {
    api: WebhooksApi,
    spec: &'static RouteSpec,
    route: Route,
}

impl WebhookRoute {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, WebhooksError> {
        let caller = self.spec.caller(req)?;
        let id = || web::path_uuid(req, "id").ok_or(WebhooksError::NotFound("webhook"));
        let delivery_id =
            || web::path_uuid(req, "delivery_id").ok_or(WebhooksError::NotFound("delivery"));
        let api = &self.api;
        Ok(match self.route {
            Route::Create => web::json(
                StatusCode::CREATED,
                &api.create(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::List => web::json(
                StatusCode::OK,
                &api.list(&caller, endpoint_page(req)?).await?,
            ),
            Route::Get => web::json(StatusCode::OK, &api.endpoint(&caller, id()?).await?),
            Route::Update => {
                let id = id()?;
                web::json(
                    StatusCode::OK,
                    &api.update(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::Delete => {
                api.delete(&caller, id()?).await?;
                web::no_content()
            }
            Route::RotateSecret => web::json(StatusCode::OK, &api.rotate(&caller, id()?).await?),
            Route::Test => web::json(StatusCode::ACCEPTED, &api.test(&caller, id()?).await?),
            Route::Deliveries => web::json(
                StatusCode::OK,
                &api.deliveries(&caller, id()?, delivery_query(req)?).await?,
            ),
            Route::Delivery => {
                let id = id()?;
                let delivery = delivery_id()?;
                let found = api
                    .deliveries(&caller, id, DeliveryQuery::Event(delivery))
                    .await?;
                let delivery = found
                    .data
                    .into_iter()
                    .next()
                    .ok_or(WebhooksError::NotFound("delivery"))?;
                web::json(StatusCode::OK, &delivery)
            }
            Route::Retry => {
                let delivery = delivery_id()?;
                web::json(
                    StatusCode::ACCEPTED,
                    &api.retry(&caller, id()?, delivery).await?,
                )
            }
        })
    }
}

#[async_trait]
impl HttpHandler for WebhookRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
    Box::pin(async move {
        let api = WebhooksApi::from_env(&env).await?;
        let limiter = api.services.base.limiter.clone();
        let db = api.services.base.db.clone();
        Ok(http_route(
            Arc::new(WebhookRoute { api, spec, route }),
            spec,
            limiter,
            db,
        ))
    })
}
