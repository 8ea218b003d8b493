//! What a store read is scoped to and how far it reads: the two values every service's port passes
//! with nearly every query, named once so the ports' signatures say what they ask for.

use vwc_contracts::{OrgId, VehicleId};

/// A vehicle as its organisation names it: every read of a vehicle's data is scoped by both ids, so
/// another organisation's vehicle is never found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VehicleRef {
    pub org_id: OrgId,
    pub vehicle_id: VehicleId,
}

impl VehicleRef {
    /// The vehicle as its own organisation names it.
    pub fn of(vehicle: &vwc_contracts::Vehicle) -> VehicleRef {
        VehicleRef::new(vehicle.org_id.clone(), vehicle.id.clone())
    }

    pub fn new(org_id: impl Into<OrgId>, vehicle_id: impl Into<VehicleId>) -> VehicleRef {
        VehicleRef {
            org_id: org_id.into(),
            vehicle_id: vehicle_id.into(),
        }
    }
}

/// Which page of a listing to read: the entries strictly after `after` in the listing's own order (the
/// first page when `None`), at most `limit` of them.
#[derive(Debug, PartialEq, Eq)]
pub struct Page<'a, K: ?Sized> {
    pub after: Option<&'a K>,
    pub limit: usize,
}

impl<'a, K: ?Sized> Page<'a, K> {
    /// The first `limit` entries.
    pub fn first(limit: usize) -> Page<'a, K> {
        Page { after: None, limit }
    }

    /// Up to `limit` entries strictly after `after` (from the start when `None`).
    pub fn after(after: Option<&'a K>, limit: usize) -> Page<'a, K> {
        Page { after, limit }
    }
}

// Not derived: a derive would ask `K: Clone`, and a page only holds a reference to its key.
impl<K: ?Sized> Clone for Page<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: ?Sized> Copy for Page<'_, K> {}
