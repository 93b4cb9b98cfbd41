//! A tiny HTTP/1.1 client over std::net, enough to drive the double.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `url` is absolute (http://127.0.0.1:PORT/path?query).
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Resp {
    let rest = url.strip_prefix("http://").expect("http url");
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = TcpStream::connect(hostport).expect("connect");
    let payload = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nAccept: application/json\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(&payload).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

pub fn password_auth(auth_url: &str, user: &str, password: &str, project: &str) -> Resp {
    let body = serde_json::json!({"auth": {
        "identity": {"methods": ["password"],
                     "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}});
    request("POST", &format!("{auth_url}/auth/tokens"), &[], Some(&body))
}

/// A logged-in compute client.
pub struct Nova {
    pub url: String,
    pub token: String,
}

impl Nova {
    pub fn login(d: &nova_double::Double) -> Nova {
        let r = password_auth(&d.auth_url(), &d.username(), &d.password(), &d.project());
        assert_eq!(r.status, 201, "{}", r.body);
        Nova {
            url: d.compute_url(),
            token: r.header("X-Subject-Token").unwrap().to_string(),
        }
    }
    pub fn call(&self, method: &str, path: &str, mv: &str, body: Option<&Value>) -> Resp {
        let h = format!("compute {mv}");
        request(
            method,
            &format!("{}{path}", self.url),
            &[("X-Auth-Token", &self.token), ("OpenStack-API-Version", &h)],
            body,
        )
    }
    pub fn get(&self, path: &str, mv: &str) -> Resp {
        self.call("GET", path, mv, None)
    }
}
