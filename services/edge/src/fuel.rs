//! Fuel economy as the read model shows it: the shared definition in `vwc_contracts::fuel` (the chat
//! historian answers from the same one).

pub use vwc_contracts::fuel::*;
