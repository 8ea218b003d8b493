//! Applies `VehicleRegistered`, the timeline's events and the vehicle's later readings to the valuation
//! (the use cases of [`Valuer`]'s `LedgerService`): each envelope is claimed in the inbox in the same
//! transaction as its effect and the valuations it publishes. The service's own points, maintenance and
//! notifications move no value.

use crate::valuer::Valuer;

/// The valuation's bus consumer.
pub type ValuationConsumer = vwc_bus::LedgerConsumer<Valuer>;
