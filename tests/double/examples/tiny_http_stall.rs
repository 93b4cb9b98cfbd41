//! Minimal repro of the keep-alive stall, without ureq and without the
//! double: plain tiny_http 0.12 and raw TCP sockets.
//!
//! tiny_http hands every accepted connection to its internal `TaskPool`
//! (one thread per *connection*, for the connection's whole keep-alive
//! life). `TaskPool::spawn` starts a new thread only when its counter of
//! idle threads is 0, and that counter only goes down when an idle thread
//! has actually woken up. Connections accepted back to back all see the
//! same stale "idle" count, are queued behind the same few threads, and
//! are not read at all until one of those threads' connections closes.
//! A keep-alive client that keeps its other connections open (ureq's
//! pool) waits for its answer until its read timeout.
//!
//! cargo run -p nova-double --example tiny_http_stall
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    // Plenty of request workers: they are not the bottleneck.
    for _ in 0..16 {
        let s = server.clone();
        std::thread::spawn(move || loop {
            if let Ok(rq) = s.recv() {
                let _ = rq.respond(tiny_http::Response::from_string("ok"));
            }
        });
    }
    std::thread::sleep(Duration::from_millis(200));
    let n = 12;
    // A burst of keep-alive connections, as 16 engine threads with an
    // empty ureq pool open them.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                TcpStream::connect(("127.0.0.1", port)).unwrap()
            })
        })
        .collect();
    let mut socks: Vec<TcpStream> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    for s in &mut socks {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    let mut stuck = Vec::new();
    for (i, s) in socks.iter_mut().enumerate() {
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(k) if k > 0 => println!(
                "conn {i:2}: answered ({})",
                String::from_utf8_lossy(&buf[..k])
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
            _ => {
                println!("conn {i:2}: NO ANSWER after 2 s (request sent, connection open)");
                stuck.push(i);
            }
        }
    }
    println!(
        "{} of {n} keep-alive connections got no answer",
        stuck.len()
    );
    if !stuck.is_empty() {
        // Close one answered (idle keep-alive) connection: its pool thread
        // is freed and picks up exactly one queued connection.
        let answered = (0..n).find(|i| !stuck.contains(i)).unwrap();
        let t = Instant::now();
        socks[answered].shutdown(std::net::Shutdown::Both).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let mut unstuck = 0;
        for &i in &stuck {
            let mut buf = [0u8; 512];
            socks[i]
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            if let Ok(k) = socks[i].read(&mut buf) {
                if k > 0 {
                    unstuck += 1;
                    println!(
                        "after closing idle conn {answered}: conn {i} answered ({:.0} ms later)",
                        t.elapsed().as_secs_f64() * 1e3
                    );
                }
            }
        }
        println!(
            "closing 1 idle keep-alive connection released {unstuck} of {} stuck requests",
            stuck.len()
        );
        std::process::exit(1);
    }
}
