//! The outbox relay: publishes pending outbox rows to the bus and marks them sent. A bus outage leaves them
//! pending; they go out when the bus is back. At worst a row is published twice (the inbox absorbs that).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, warn};
use vwc_bus::Bus;

use crate::Outbox;

const BATCH: usize = 200;

pub struct OutboxRelay {
    name: String,
    outbox: Arc<dyn Outbox>,
    bus: Arc<dyn Bus>,
    poll_every: Duration,
}

impl OutboxRelay {
    pub fn new(name: &str, outbox: Arc<dyn Outbox>, bus: Arc<dyn Bus>) -> OutboxRelay {
        OutboxRelay {
            name: name.to_string(),
            outbox,
            bus,
            poll_every: Duration::from_millis(500),
        }
    }

    pub fn poll_every(mut self, every: Duration) -> OutboxRelay {
        self.poll_every = every;
        self
    }

    /// Publishes until the outbox is empty or the bus refuses. Returns how many rows were sent.
    pub async fn flush(&self) -> Result<usize, String> {
        let mut sent = 0;
        loop {
            let batch = self
                .outbox
                .pending(BATCH)
                .await
                .map_err(|e| e.to_string())?;
            if batch.is_empty() {
                return Ok(sent);
            }
            let (ids, envelopes): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            self.bus
                .publish(&envelopes)
                .await
                .map_err(|e| e.to_string())?;
            self.outbox
                .mark_sent(&ids)
                .await
                .map_err(|e| e.to_string())?;
            sent += ids.len();
        }
    }

    /// Runs until `shutdown` turns true, then flushes once more.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let wakeup = self.outbox.wakeup();
        loop {
            match self.flush().await {
                Ok(0) => {}
                Ok(n) => debug!(relay = %self.name, sent = n, "outbox relayed"),
                Err(e) => warn!(relay = %self.name, error = %e, "outbox relay failed; will retry"),
            }
            tokio::select! {
                _ = wakeup.notified() => {}
                _ = tokio::time::sleep(self.poll_every) => {}
                _ = shutdown.changed() => {
                    if let Err(e) = self.flush().await {
                        warn!(relay = %self.name, error = %e, "final outbox flush failed; rows stay pending");
                    }
                    return;
                }
            }
        }
    }
}
