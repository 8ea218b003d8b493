//! The routes of the records features (issue 14) that live in their own modules: search and the history
//! export over the edge's read model (the calendar feeds are the edge's own routes). Composed in
//! `embedded::ApiRoutes`.

use utoipa_axum::router::OpenApiRouter;
use vwc_edge::http::EdgeState;
use vwc_http::openapi::Docs;

pub fn routes(docs: Docs) -> OpenApiRouter<EdgeState> {
    vwc_edge::search::http::routes(docs).merge(vwc_edge::export::routes(docs))
}
