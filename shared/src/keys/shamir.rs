//! Shamir secret sharing compatible with sops key groups (placeholder, being written).
