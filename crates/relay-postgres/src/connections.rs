//! Connecting channels (Embedded Signup) and their health at Meta.
