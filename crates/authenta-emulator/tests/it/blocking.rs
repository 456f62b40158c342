//! `spawn()`: the emulator on its own runtime, for code without tokio.

use std::io::{Read as _, Write as _};

use authenta_emulator::{Emulator, KeySpec};

fn get(addr: std::net::SocketAddr, path: &str, headers: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn spawn_runs_without_a_runtime_and_stops_on_drop() {
    let emu = Emulator::builder().spawn().unwrap();
    let key = emu.create_key(KeySpec::new("blocking")).unwrap();
    let addr = emu.addr();
    let answer = get(
        addr,
        "/api/media",
        &format!(
            "x-client-id: {}\r\nx-client-secret: {}\r\n",
            key.client_id, key.client_secret
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"total\":0"));
    drop(emu);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener is closed"
    );
}

#[test]
fn shutdown_stops_a_spawned_emulator() {
    let emu = Emulator::builder().spawn().unwrap();
    let addr = emu.addr();
    emu.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err());
}
