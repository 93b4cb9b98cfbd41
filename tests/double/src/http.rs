//! A minimal HTTP/1.1 server: one thread per connection for the
//! connection's whole keep-alive life, requests on a connection answered
//! in order, at most `workers` requests handled at once.
//!
//! Why not tiny_http (0.12, used until the benchmark found this): it hands
//! each accepted connection to its `TaskPool`, which starts a new thread
//! only when its count of idle threads is 0, and that count goes down only
//! once an idle thread has woken up. A burst of connections accepted back
//! to back is queued behind the same few threads and not read at all until
//! one of them closes its (keep-alive) connection; a pooling client such as
//! ureq waits for its answer until its read timeout (30 s).
//! `examples/tiny_http_stall.rs` reproduces it with raw sockets.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// A request as the handler sees it.
pub struct HttpRequest {
    pub method: String,
    /// Path and query, as sent.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub reason: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

type Handler = dyn Fn(HttpRequest) -> HttpResponse + Send + Sync;

/// Counting semaphore: the handler concurrency (the double's `workers`).
struct Slots {
    free: Mutex<usize>,
    cv: Condvar,
}

impl Slots {
    fn acquire(&self) {
        let mut f = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *f == 0 {
            f = self.cv.wait(f).unwrap_or_else(|e| e.into_inner());
        }
        *f -= 1;
    }
    fn release(&self) {
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.cv.notify_one();
    }
}

struct Inner {
    shutdown: AtomicBool,
    /// Open connections, to close them at shutdown.
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
    slots: Slots,
}

impl HttpServer {
    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.inner.next_id.load(Ordering::Relaxed)
    }
}

pub struct HttpServer {
    inner: Arc<Inner>,
    port: u16,
    bind: String,
    accept: Option<JoinHandle<()>>,
}

impl HttpServer {
    pub fn start(
        bind: &str,
        port: u16,
        workers: usize,
        handler: Arc<Handler>,
    ) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind((bind, port))?;
        let port = listener.local_addr()?.port();
        let inner = Arc::new(Inner {
            shutdown: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            slots: Slots {
                free: Mutex::new(workers.max(1)),
                cv: Condvar::new(),
            },
        });
        let inn = inner.clone();
        let accept = std::thread::Builder::new()
            .name("nova-double-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if inn.shutdown.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let _ = stream.set_nodelay(true);
                    let id = inn.next_id.fetch_add(1, Ordering::Relaxed);
                    if let Ok(c) = stream.try_clone() {
                        inn.conns
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(id, c);
                    }
                    let inn2 = inn.clone();
                    let h = handler.clone();
                    let spawned = std::thread::Builder::new()
                        .name(format!("nova-double-conn-{id}"))
                        .stack_size(256 * 1024)
                        .spawn(move || {
                            serve(&inn2, stream, &*h);
                            inn2.conns
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .remove(&id);
                        });
                    if spawned.is_err() {
                        inn.conns
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&id);
                    }
                }
            })?;
        Ok(HttpServer {
            inner,
            port,
            bind: bind.to_string(),
            accept: Some(accept),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let host = if self.bind == "0.0.0.0" {
            "127.0.0.1"
        } else {
            self.bind.as_str()
        };
        let _ = TcpStream::connect((host, self.port));
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        for (_, c) in self
            .inner
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        411 => "Length Required",
        _ => "Error",
    }
}

/// Read one request; None at EOF or on garbage (the connection closes).
fn read_request(r: &mut BufReader<TcpStream>) -> Result<Option<(HttpRequest, bool)>, u16> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) | Err(_) => return Ok(None),
        Ok(_) => {}
    }
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(url), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    let (method, url, http10) = (method.to_string(), url.to_string(), version == "HTTP/1.0");
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        match r.read_line(&mut h) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((k, v)) = h.split_once(':') else {
            return Err(400);
        };
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    if get("transfer-encoding").is_some() {
        // No client of the double sends chunked bodies.
        return Err(411);
    }
    let len: usize = match get("content-length") {
        Some(v) => v.trim().parse().map_err(|_| 400u16)?,
        None => 0,
    };
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return Ok(None);
    }
    let conn = get("connection").unwrap_or_default();
    let close = conn.contains("close") || (http10 && !conn.contains("keep-alive"));
    Ok(Some((
        HttpRequest {
            method,
            url,
            headers,
            body,
        },
        close,
    )))
}

fn serve(inner: &Inner, stream: TcpStream, handler: &Handler) {
    let Ok(wr) = stream.try_clone() else { return };
    let mut rd = BufReader::new(stream);
    let mut wr = std::io::BufWriter::new(wr);
    loop {
        let (rq, close) = match read_request(&mut rd) {
            Ok(Some(x)) => x,
            Ok(None) => return,
            Err(status) => {
                let _ = write!(
                    wr,
                    "HTTP/1.1 {status} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    reason(status)
                );
                let _ = wr.flush();
                return;
            }
        };
        if inner.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let head = rq.method.eq_ignore_ascii_case("HEAD");
        inner.slots.acquire();
        let resp = handler(rq);
        inner.slots.release();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nServer: nova-double\r\nContent-Length: {}\r\n",
            resp.status,
            resp.reason,
            resp.body.len()
        );
        for (k, v) in &resp.headers {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        if close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut ok = wr.write_all(out.as_bytes()).is_ok();
        if ok && !head && !matches!(resp.status, 100..=199 | 204 | 304) {
            ok = wr.write_all(&resp.body).is_ok();
        }
        if !ok || wr.flush().is_err() || close {
            return;
        }
    }
}
