//! All streams read at once never have more requests in flight than `max_concurrent_requests`.
//!
//! The fake does not report how many requests overlap, so this test serves every endpoint from
//! a tiny HTTP server that counts requests in flight and answers each one after a short delay.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{read_all_at_once, source_from};

const ANSWER: &str =
    r#"{"success":true,"results":[{"id":"x"}],"moreDataAvailable":false,"syncToken":"t"}"#;

#[derive(Default)]
struct Gauge {
    in_flight: AtomicUsize,
    most: AtomicUsize,
    served: AtomicUsize,
}

#[tokio::test]
async fn requests_in_flight_never_exceed_the_configured_cap() {
    let gauge = Arc::new(Gauge::default());
    let base_url = serve(Arc::clone(&gauge), Duration::from_millis(60)).await;
    let spec = format!(
        "[sources.ashby]\ntype = \"ashby\"\napi_key = \"k\"\nbase_url = \"{base_url}\"\n\
         max_concurrent_requests = 3\n"
    );
    let source = Arc::new(source_from(&spec));

    let reads = read_all_at_once(source).await;

    for (stream, read) in &reads {
        assert_eq!(read.report().records, 1, "{stream}");
    }
    assert_eq!(gauge.served.load(Ordering::SeqCst), 14);
    assert_eq!(gauge.most.load(Ordering::SeqCst), 3, "the cap is used, and never exceeded");
}

/// Serves `ANSWER` to every request after `delay`; returns the base URL.
async fn serve(gauge: Arc<Gauge>, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(answer_requests(socket, Arc::clone(&gauge), delay));
        }
    });
    format!("http://{address}")
}

async fn answer_requests(mut socket: TcpStream, gauge: Arc<Gauge>, delay: Duration) {
    while read_request(&mut socket).await.is_some() {
        let now = gauge.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        gauge.in_flight.fetch_sub(1, Ordering::SeqCst);
        gauge.served.fetch_add(1, Ordering::SeqCst);

        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{ANSWER}",
            ANSWER.len()
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one HTTP/1.1 request with a `content-length` body; `None` at the end of the stream.
async fn read_request(socket: &mut TcpStream) -> Option<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };

    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    Some(())
}
