//! The routes of the records features (issue 14) that live in their own modules: the maintenance calendar
//! feeds and their signed URLs, search, and the history export. One merge in `build_router`, so the composition stays small.

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;
use vwc_auth::TokenVerifier;

use crate::stores::Stores;

pub fn routes(
    stores: &Stores,
    verifier: &Arc<dyn TokenVerifier>,
    clock: &vwc_clock::SharedClock,
) -> OpenApiRouter {
    OpenApiRouter::new()
        .merge(vwc_edge::calendar::http::routes().with_state(
            vwc_edge::calendar::http::CalendarState {
                store: stores.edge.clone(),
                keys: stores.calendar_keys.clone(),
                verifier: verifier.clone(),
            },
        ))
        .merge(
            vwc_edge::search::http::routes()
                .merge(vwc_edge::export::routes())
                .with_state(vwc_edge::http::EdgeState {
                    store: stores.edge.clone(),
                    verifier: verifier.clone(),
                    clock: clock.clone(),
                }),
        )
}
