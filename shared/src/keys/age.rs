//! age master keys (placeholder, being written).
