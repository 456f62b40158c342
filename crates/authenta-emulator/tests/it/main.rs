//! Integration tests: the emulator on port 0, driven by a plain HTTP client.

mod api;
mod bearer;
mod blocking;
mod clock;
mod common;
mod connections;
mod control;
mod faults;
mod jobs;
mod load;
mod logs;
mod persistence;
mod store;
mod upload;
