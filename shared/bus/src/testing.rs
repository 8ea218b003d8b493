//! What the unit tests of the SQS worker and the Lambda handler share: a consumer that behaves like a
//! real one on malformed data and remembers what it handled (or one that panics).

use std::sync::Mutex;

use async_trait::async_trait;
use vwc_contracts::{Envelope, EventType};

use crate::{Consumer, HandleError};

/// Fails envelopes whose data is not an event (as every real consumer does); records the ids of the rest.
#[derive(Default)]
pub(crate) struct Picky {
    pub(crate) handled: Mutex<Vec<uuid::Uuid>>,
    panics: bool,
}

impl Picky {
    /// One that panics on every envelope ("boom").
    pub(crate) fn panicking() -> Picky {
        Picky {
            panics: true,
            ..Picky::default()
        }
    }
}

#[async_trait]
impl Consumer for Picky {
    fn name(&self) -> &str {
        "picky"
    }
    fn consumes(&self) -> &'static [EventType] {
        EventType::ALL
    }
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        assert!(!self.panics, "boom");
        envelope.event().map_err(HandleError::malformed)?;
        self.handled.lock().unwrap().push(envelope.id);
        Ok(())
    }
}
