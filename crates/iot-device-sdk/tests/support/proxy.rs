//! A fault-injecting TCP proxy.
