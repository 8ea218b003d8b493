//! MongoDB: one database per service, indexes created at start-up, multi-document transactions for the
//! outbox and inbox.
