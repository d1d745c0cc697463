//! The model backend.
