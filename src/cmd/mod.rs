//! One module per subcommand: its clap arguments and its `run`.

pub mod attest;
pub mod batch;
pub mod conformance;
pub mod publish;
mod release_tags;
pub mod serve;
pub mod trust_root;
pub mod verify;
