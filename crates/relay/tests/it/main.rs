//! Tests of the relay through its router and on real sockets.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod access;
mod api;
mod assist;
mod audit_sends;
mod automation;
mod automation_routes;
mod campaigns;
mod consent;
mod crash;
mod database;
mod gaps;
mod health;
mod instances;
mod load;
mod meta_callbacks;
mod migrate;
mod operator_cli;
mod origin;
mod publish;
mod ratelimit;
mod retention;
mod shared_files;
mod signup;
mod stream;
mod support;
mod team;
mod templates;
mod tenants;
mod tls;
mod transport;
mod webhooks;
