//! One module per subcommand: its clap arguments and its `run`.

pub mod attest;
pub mod batch;
pub mod conformance;
pub mod publish;
pub mod serve;
pub mod verify;
