//! The account-management routes' glue: parse, authorize, call [`Manage`], map the answer.

use crate::error::AccountsError;
use async_trait::async_trait;
use gsign_core::Env;
use gsign_platform::http as web;
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

use super::client_info;
use crate::service::manage::{AuditQuery, Caller, ListQuery, Manage};

/// The `{id}` of the path; an id that cannot exist is not found.
fn path_id(req: &Request) -> Result<uuid::Uuid, AccountsError> {
    web::path_uuid(req, "id").ok_or(AccountsError::NotFound("resource"))
}

/// A query parameter, owned.
fn query(req: &Request, name: &str) -> Option<String> {
    web::query(req, name).map(str::to_owned)
}

fn list_query(req: &Request) -> ListQuery {
    ListQuery {
        limit: query(req, "limit"),
        cursor: query(req, "cursor"),
    }
}

fn audit_query(req: &Request) -> AuditQuery {
    AuditQuery {
        page: list_query(req),
        from: query(req, "from"),
        to: query(req, "to"),
        user_id: query(req, "user_id"),
        resource_type: query(req, "resource_type"),
        resource_id: query(req, "resource_id"),
        action: query(req, "action"),
    }
}

const BODY_LIMIT: usize = 64 * 1024;

/// Which route a function serves (its entry in [`crate::AREA`] says the rest).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
    UpdateMe,
    GetOrganization,
    UpdateOrganization,
    ListMembers,
    InviteMember,
    UpdateMember,
    RemoveMember,
    ListKeys,
    CreateKey,
    RevokeKey,
    ListAuditEvents,
}

struct ManageRoute {
    service: Manage,
    spec: &'static RouteSpec,
    route: Route,
}

impl ManageRoute {
    #[tracing::instrument(skip_all)]
    async fn answer(&self, req: &Request) -> Result<Response<Body>, AccountsError> {
        let principal = web::principal(req).ok_or(AccountsError::Unauthenticated)?;
        let action = self.spec.action.ok_or(AccountsError::Unauthenticated)?;
        let caller = Caller::of(&principal, action, client_info(req))?;
        let s = &self.service;
        Ok(match self.route {
            Route::UpdateMe => web::json(
                StatusCode::OK,
                &s.update_profile(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::GetOrganization => web::json(StatusCode::OK, &s.organization(&caller).await?),
            Route::UpdateOrganization => web::json(
                StatusCode::OK,
                &s.update_organization(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::ListMembers => {
                web::json(StatusCode::OK, &s.members(&caller, &list_query(req)).await?)
            }
            Route::InviteMember => web::json(
                StatusCode::CREATED,
                &s.invite(&caller, web::parse_json(req, BODY_LIMIT)?).await?,
            ),
            Route::UpdateMember => {
                let id = path_id(req)?;
                web::json(
                    StatusCode::OK,
                    &s.change_role(&caller, id, web::parse_json(req, BODY_LIMIT)?)
                        .await?,
                )
            }
            Route::RemoveMember => {
                s.remove(&caller, path_id(req)?).await?;
                web::no_content()
            }
            Route::ListKeys => web::json(StatusCode::OK, &s.keys(&caller, &list_query(req)).await?),
            Route::CreateKey => web::json(
                StatusCode::CREATED,
                &s.create_key(&caller, web::parse_json(req, BODY_LIMIT)?)
                    .await?,
            ),
            Route::RevokeKey => {
                s.revoke_key(&caller, path_id(req)?).await?;
                web::no_content()
            }
            Route::ListAuditEvents => web::json(
                StatusCode::OK,
                &s.audit_events(&caller, &audit_query(req)).await?,
            ),
        })
    }
}

#[async_trait]
impl HttpHandler for ManageRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        match self.answer(&req).await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

pub(crate) fn init_route(env: Env, spec: &'static RouteSpec, route: Route) -> InitFuture {
    Box::pin(async move {
        let service = Manage::from_env(&env).await?;
        let limiter = service.limiter.clone();
        let db = service.db.clone();
        Ok(http_route(
            Arc::new(ManageRoute {
                service,
                spec,
                route,
            }),
            spec,
            limiter,
            db,
        ))
    })
}
