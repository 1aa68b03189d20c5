//! The one integration-test binary. Each module exercises one capability through the
//! built `npm-attest` binary and real peers (see ARCHITECTURE.md, "Testing").

mod action;
mod architecture;
mod attest;
mod conformance;
mod fake_http;
mod interop;
mod registry;
mod standin;
mod support;
mod verify;
