//! PGP master keys through the system `gpg` (placeholder, being written).
