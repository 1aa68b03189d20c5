//! The one integration-test binary. Each module exercises one capability through the
//! built `npm-attest` binary and real peers (see ARCHITECTURE.md, "Testing").

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod architecture;
mod attest;
mod conformance;
mod fake_http;
mod faults;
mod hostile;
mod registry;
mod secrets;
mod standin;
mod support;
mod verify;
