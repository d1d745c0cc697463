//! The host-kernel backend.
