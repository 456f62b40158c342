//! Links the C++ standard library statically for openh264 (the H.264
//! decoder of the posters) when the build asks cc-rs to link none: the
//! workspace's `.cargo/config.toml` sets `CXXSTDLIB_<target>` empty for
//! `x86_64-unknown-linux-gnu`. The decoder uses a few of its symbols
//! (operator new and delete, type info), and `libstdc++.so`, loaded and
//! initialised by every run of a program that has the report, cost 0.8 MiB
//! of memory even when it made no poster. Any other build links it as
//! openh264 asks (dynamically); nothing here runs.

use std::env;

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let var = format!("CXXSTDLIB_{}", target.replace(['-', '.'], "_"));
    println!("cargo::rerun-if-env-changed={var}");
    if target == "x86_64-unknown-linux-gnu" && env::var(&var).is_ok_and(|v| v.is_empty()) {
        // `-bundle`: linked where the program is, from the compiler's own
        // libstdc++.a, not copied into this crate's rlib.
        println!("cargo::rustc-link-lib=static:-bundle=stdc++");
    }
}
