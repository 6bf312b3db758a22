//! The web app as CloudFront serves it, locally: the built files of `web/dist` at `/`, any
//! path that is not a file answered with `index.html` (the app routes in the browser), and
//! the same security headers the distribution's response-headers policy sets
//! (`infra/aws/web.yaml`). `/v1/*` stays the API's, on the same origin, so the app needs no
//! CORS.

use std::path::Path;

use axum::Router;
use http::header::{self, HeaderName, HeaderValue};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// The Content-Security-Policy of every page: scripts, styles, fonts and pdf.js's worker only
/// from the app's origin (no inline script); `connect-src` adds `document_origins`, where the
/// short-lived links to PDFs point (S3), and `frame-ancestors` is `'none'` (embedding is
/// allowed per organization by the embedded-signing page, not by default).
pub fn content_security_policy(document_origins: &[String]) -> String {
    let connect = std::iter::once("'self'".to_owned())
        .chain(document_origins.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self'; \
         img-src 'self' data: blob:; font-src 'self' data:; connect-src {connect}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// A router that serves `dist` with the SPA fallback and the security headers.
pub fn router(dist: &Path, document_origins: &[String]) -> anyhow::Result<Router> {
    let index = dist.join("index.html");
    anyhow::ensure!(
        index.is_file(),
        "{} is missing: build the web app (npm run build in web/)",
        index.display()
    );
    let csp = HeaderValue::from_str(&content_security_policy(document_origins))?;
    let files = ServeDir::new(dist)
        .append_index_html_on_directories(true)
        .fallback(ServeFile::new(index));
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    Ok(Router::new()
        .fallback_service(files)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(header(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Signing links carry their token in the query: never send it onwards (to S3, say).
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=()",
        ))
        .layer(header(header::CACHE_CONTROL, "no-cache")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_inline_script_and_only_the_document_origins_beside_its_own() {
        let csp = content_security_policy(&["http://127.0.0.1:4566".to_owned()]);
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("worker-src 'self' blob:"), "{csp}");
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:4566;"),
            "{csp}"
        );
        assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
    }
}
