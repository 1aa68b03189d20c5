//! The one integration-test binary. Each module exercises one capability through the
//! built `npm-attest` binary and real peers (see ARCHITECTURE.md, "Testing").

// Test code may panic: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod action;
mod algorithms;
mod architecture;
mod attest;
mod batch;
mod conformance;
mod conformance_sign;
mod fake_http;
mod faults;
mod first_contact;
mod github_instance;
mod hostile;
mod interop;
mod lockfile;
mod managers;
mod merkle;
mod monorepo_e2e;
mod network;
mod npm_package;
mod pack;
mod policy;
mod private_repo;
mod publish;
mod registry;
mod rekor_v2;
mod secrets;
mod standin;
mod support;
mod tamper;
mod tar_bombs;
mod trusted_publishing;
mod tuf;
mod tuf_hard;
mod verify;
