//! Unit tests of rule compilation and checks.
