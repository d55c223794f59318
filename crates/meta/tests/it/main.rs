//! Tests of zentro-meta: the payload corpus, parser properties, and signatures end to end.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod corpus;
mod known_answers;
mod properties;
