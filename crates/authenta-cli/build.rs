//! Lays out a release `authenta`'s code: the functions its usual runs
//! execute come first, in the order of `authenta.order` (written by
//! `tools/layout.py`, which says how they were chosen). The kernel maps a
//! binary's code in 64 KiB windows around each page that runs, so a run
//! that finds its code together maps less of the binary: a 500-file
//! `authenta process` peaks at about 9.5 MiB instead of 15 (BENCHMARKS.md,
//! "the binary's layout").
//!
//! Only where the linker is known to read the order: release builds for
//! `x86_64-unknown-linux-gnu`, whose default linker is LLD (Rust 1.90 and
//! later), when the build names no linker of its own. Names of the order
//! that this build does not have are ignored; set `AUTHENTA_NO_LAYOUT` to
//! link in the linker's own order.

use std::env;

fn main() {
    println!("cargo::rerun-if-changed=authenta.order");
    for var in [
        "AUTHENTA_NO_LAYOUT",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
        "RUSTC_LINKER",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let var = |name: &str| env::var(name).unwrap_or_default();
    let release = var("PROFILE") == "release";
    let lld_by_default = var("TARGET") == "x86_64-unknown-linux-gnu";
    // A linker of the build's own (a variable, or flags that pick one) may
    // not know the option: link as it would.
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    let own_linker = !var("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_empty()
        || !var("RUSTC_LINKER").is_empty()
        || ["linker", "fuse-ld", "link-self-contained"]
            .iter()
            .any(|f| flags.contains(f));
    if release && lld_by_default && !own_linker && env::var_os("AUTHENTA_NO_LAYOUT").is_none() {
        let order = format!("{}/authenta.order", var("CARGO_MANIFEST_DIR"));
        println!("cargo::rustc-link-arg-bin=authenta=-Wl,--symbol-ordering-file={order}");
        println!("cargo::rustc-link-arg-bin=authenta=-Wl,--no-warn-symbol-ordering");
    }
}
