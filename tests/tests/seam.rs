//! The `TcpStream` HTTP client of proto's `custom_client` example (which the
//! conformance suite runs as `tcp::*`, every case): the answer framings the
//! emulator does not use, on canned bytes.

use authenta_tests::StdHttp;

/// The emulator frames its answers with `Content-Length`; the other two
/// framings, on canned bytes.
#[test]
fn the_std_client_reads_chunked_and_unframed_answers() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
    let answer = StdHttp::read_answer(&chunked[..]).unwrap();
    assert_eq!(answer.body(), b"hello world");
    assert_eq!(answer.headers()["transfer-encoding"], "chunked");
    let unframed = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\nbusy";
    let answer = StdHttp::read_answer(&unframed[..]).unwrap();
    assert_eq!(
        (answer.status().as_u16(), answer.body().as_slice()),
        (503, &b"busy"[..])
    );
    let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
    assert!(StdHttp::read_answer(&empty[..]).unwrap().body().is_empty());
    // A body cut short comes back as it came, as some HTTP clients return
    // it: proto's length rule refuses it (the fault matrix's `truncated`
    // rows run this client).
    let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    let answer = StdHttp::read_answer(&cut[..]).unwrap();
    assert_eq!(answer.body().as_slice(), b"abc");
    assert_eq!(answer.headers()["content-length"], "10");
}
