//! npm at the edge: the registry client and credentials (`registry`), package tarballs and
//! their manifest (`tarball`), packing a directory (`pack`), and workspaces (`workspaces`).

pub mod pack;
pub mod registry;
pub mod tarball;
pub mod workspaces;
