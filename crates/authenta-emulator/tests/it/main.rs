//! Integration tests: the emulator on port 0, driven by a plain HTTP client.

mod api;
mod blocking;
mod common;
mod control;
mod faults;
mod load;
mod persistence;
mod upload;
